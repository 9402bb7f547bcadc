"""/oauth as an OpenID provider: authorize, the headless login and consent API, userinfo.

Errors here are problems (the contract's 400 for an unknown client or redirect URI);
the token endpoint's RFC 6749 errors live in views/oauth.py.
"""

from __future__ import annotations

from typing import Any

from flask import Response, after_this_request, current_app, request
from sqlalchemy import select

from authapi import authz, db
from authapi.accounts import accounts, passkeys, users
from authapi.audit import request_meta
from authapi.errors import (
    AccountDisabled,
    ApiError,
    EmailUnverified,
    InsufficientScope,
    InvalidCredentials,
    MfaRequired,
)
from authapi.limits import limits
from authapi.models import AuthorizationRequest, Client, UserSession
from authapi.oauth import authorize, logout, par
from authapi.oauth.authorize import App
from authapi.oauth.client_auth import issuer
from authapi.oauth.idtoken import profile_claims
from authapi.sessions import sessions
from authapi.tokens.tokens import SignIn
from authapi.views import BEARER, Blueprint
from authapi.web import signin
from authapi.web.schemas import (
    AuthorizationRequestSchema,
    ConsentSchema,
    RedirectSchema,
    RequestLoginSchema,
    RequestPasskeySchema,
    UserInfoSchema,
)

bp = Blueprint("provider", __name__, url_prefix="/oauth",
               description="OpenID provider: apps that sign users in.")
REDIRECT = {"302": {"description": "To the app (a code or an error) or to the login page."}}
# What prompt=none answers when the user would have to act (OIDC Core §3.1.2.6).
NOT_WITHOUT_THE_USER = {authorize.LOGIN: "login_required", authorize.MFA: "login_required",
                        authorize.CONSENT: "consent_required"}


class LoginRequired(ApiError):
    """Consent needs the sign-in cookie of the request's user."""

    status = 401
    code = "login_required"
    title = "Sign-in required"
    detail = "Sign in (in this browser) as the user of this request first."


def redirect(location: str) -> Response:
    """A bare 302 to `location`, never cached (RFC 6749 §5.1's spirit for codes)."""
    return Response(status=302, headers={"Location": location, "Cache-Control": "no-store"})


def login_url(request_id: str) -> str:
    """The login page for a pending request: AUTHAPI_LOGIN_URL, or the built-in one."""
    base = current_app.config["AUTHAPI_LOGIN_URL"] or issuer() + "/oauth/login"
    return authorize.redirect_to(base, {"request": request_id})


def _held(session: UserSession | None) -> str:
    return users.profile(session.user_id)["scope"] if session is not None else ""


def _next(row: AuthorizationRequest, client: App, session: UserSession | None,
          after_login: bool = False) -> str:
    """Where the browser goes: the app with a code, or the login page for what is missing."""
    held = _held(session)
    need = authorize.needs(row, client, session, held, fresh=after_login)
    if need == authorize.NONE and session is not None:
        return authorize.complete(row, session, authorize.granted_scope(row, held))
    if session is not None and need == authorize.CONSENT:
        authorize.signed_in(row, session)
    if "none" in (row.prompt or "").split():
        row.expires_at = db.utcnow()
        return authorize.error_redirect(row.redirect_uri, row.state, authorize.Refused(
            NOT_WITHOUT_THE_USER[need], "The user must act: prompt=none cannot be met."))
    return login_url(row.id)


@bp.route("/authorize", methods=["GET", "POST"])
@bp.doc(responses=REDIRECT)
def authorize_endpoint() -> Response:
    """OAuth 2.1 authorization (code + PKCE S256): 302 with a code, or to sign in. GET with
    the query, or POST with a form (OpenID Connect Core §3.1.2.1)."""
    params = (request.form if request.method == "POST" else request.args).to_dict(flat=False)
    binding, new = signin.binding()
    if "request_uri" in params:  # RFC 9126: the pushed request is the request
        client = _client_of(params)
        row = par.take_pushed(client, params["request_uri"][0], binding)
    else:
        client, redirect_uri = authorize.client_and_redirect(params)
        try:
            row = authorize.start(client, redirect_uri, params, binding)
        except authorize.Refused as refused:
            states = params.get("state") or []
            state = states[0] if len(states) == 1 and len(states[0]) <= 512 else None
            return redirect(authorize.error_redirect(redirect_uri, state, refused))
    location = _next(row, client, signin.current())
    db.orm().commit()
    response = redirect(location)
    if new:
        signin.set_binding(response, binding)
    return response


def _client_of(params: dict[str, list[str]]) -> App:
    ids, uris = params.get("client_id") or [], params.get("request_uri") or []
    client = authorize.app(ids[0]) if len(ids) == 1 and len(uris) == 1 else None
    if client is None:
        raise authorize.Unredirectable("client_id and request_uri, once each, are required.")
    return client


def _pending(request_id: str) -> tuple[AuthorizationRequest, App]:
    row = authorize.pending(request_id, request.cookies.get(signin.BINDING_COOKIE))
    client = authorize.app(row.client_id)
    if client is None:  # deleted or disabled since
        raise authorize.Unredirectable("The client of this request is gone.")
    return row, client


@bp.get("/requests/<string:request_id>")
@bp.response(200, AuthorizationRequestSchema)
def get_request(request_id: str) -> Any:
    """The pending request, for a login page: who asks, for what, and what is needed."""
    row, client = _pending(request_id)
    session = signin.current()
    return {"id": row.id, "client": {"client_id": client.client_id, "name": client.name,
                                     "first_party": client.first_party},
            "scopes": row.scope.split(), "resources": row.resources or [],
            "login_hint": row.login_hint,
            "needs": authorize.needs(row, client, session, _held(session))}


def _signed_in(row: AuthorizationRequest, client: App, user: Any, sign_in: SignIn,
               method: str) -> Any:
    session_id = sessions.open_sign_in(user, request_meta(), sign_in, method)
    session = db.orm().get(UserSession, session_id)
    assert session is not None  # noqa: S101  (just flushed in this transaction)
    authorize.signed_in(row, session)
    location = _next(row, client, session, after_login=True)
    db.orm().commit()

    @after_this_request
    def _cookie(response: Response) -> Response:
        signin.set_sign_in(response, session_id)
        return response

    return {"redirect_to": location}


@bp.post("/requests/<string:request_id>/login")
@limits.login_limits
@bp.arguments(RequestLoginSchema)
@bp.response(200, RedirectSchema)
def request_login(body: dict[str, Any], request_id: str) -> Any:
    """Sign in for a pending request (as /auth/login: same answers, limits and lockout)."""
    row, client = _pending(request_id)
    try:
        user, sign_in = accounts.authenticate(body["email"], body["password"], body.get("otp"))
    except (InvalidCredentials, AccountDisabled, EmailUnverified, MfaRequired):
        db.orm().commit()  # keep the login_failed audit event
        raise
    return _signed_in(row, client, user, sign_in, "oauth")


@bp.post("/requests/<string:request_id>/passkey")
@limits.login_limits
@bp.arguments(RequestPasskeySchema)
@bp.response(200, RedirectSchema)
def request_passkey(body: dict[str, Any], request_id: str) -> Any:
    """Sign in for a pending request with a passkey (as /auth/passkeys/login/verify)."""
    row, client = _pending(request_id)
    try:
        user, sign_in = passkeys.authenticate(body["challenge_id"], body["credential"])
    except (InvalidCredentials, AccountDisabled):
        db.orm().commit()
        raise
    return _signed_in(row, client, user, sign_in, "oauth-passkey")


@bp.post("/requests/<string:request_id>/consent")
@bp.arguments(ConsentSchema)
@bp.response(200, RedirectSchema)
def request_consent(body: dict[str, Any], request_id: str) -> Any:
    """Let the app in (all asked scopes, or `scopes`, a subset) or not."""
    row, _client = _pending(request_id)
    session = signin.current()
    if session is None or row.user_id is None or session.user_id != row.user_id:
        raise LoginRequired()
    if not body["approve"]:
        location = authorize.deny(row)
        db.orm().commit()
        return {"redirect_to": location}
    scope = authorize.granted_scope(row, _held(session))
    if "scopes" in body:
        chosen = set(body["scopes"])
        scope = " ".join(s for s in scope.split() if s in chosen)
    authorize.consent(row, session.user_id, scope)
    location = authorize.complete(row, session, scope)
    db.orm().commit()
    return {"redirect_to": location}


def _userinfo() -> Any:
    claims = authz.authenticate(any_audience=True)
    if "openid" not in str(claims.get("scope", "")).split() or "sid" not in claims:
        raise InsufficientScope("This token was not granted `openid`.")
    user = users.get(claims["sub"])
    return {"sub": user.id, **profile_claims(user, claims["scope"])}


@bp.get("/userinfo")
@bp.doc(security=BEARER)
@bp.response(200, UserInfoSchema)
def userinfo_get() -> Any:
    """OpenID Connect userinfo: `sub`, and `email`/`name` by the token's scopes."""
    return _userinfo()


@bp.post("/userinfo")
@bp.doc(security=BEARER)
@bp.response(200, UserInfoSchema)
def userinfo_post() -> Any:
    """The same as GET (OIDC Core §5.3.1 allows both)."""
    return _userinfo()


@bp.route("/logout", methods=["GET", "POST"])
@bp.doc(responses=REDIRECT)
def end_session() -> Response:
    """OpenID Connect RP-Initiated Logout: end this browser's sign-in and the app sessions
    opened from it, then 302 to a registered post_logout_redirect_uri (or a signed-out page).
    GET with the query, or POST with a form (RP-Initiated Logout §2).
    """
    args = request.form if request.method == "POST" else request.args
    if any(len(args.getlist(name)) > 1 for name in args):
        raise authorize.Unredirectable("A parameter is repeated.")
    hint = args.get("id_token_hint")
    claims = logout.id_token_hint(hint) if hint else None
    if hint and claims is None:
        raise authorize.Unredirectable("id_token_hint is not an ID token of this issuer.")
    client_id = args.get("client_id") or (claims or {}).get("aud")
    if claims is not None and args.get("client_id") not in (None, claims.get("aud")):
        raise authorize.Unredirectable("client_id is not the ID token's audience.")
    target = issuer() + "/oauth/signed-out"
    uri = args.get("post_logout_redirect_uri")
    if uri is not None:
        client = db.orm().scalar(select(Client).where(Client.client_id == str(client_id)))
        if client is None or uri not in (client.post_logout_redirect_uris or []):
            raise authorize.Unredirectable(
                "post_logout_redirect_uri is not registered for this client.")
        target = authorize.redirect_to(uri, {"state": args.get("state")})
    logout.end_sign_in(signin.current(), (claims or {}).get("sid"))
    db.orm().commit()
    response = redirect(target)
    signin.clear_sign_in(response)
    return response
