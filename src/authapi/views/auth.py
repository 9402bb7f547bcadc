"""/auth: register, log in, refresh, log out, sessions, password, forward-auth."""

from __future__ import annotations

from typing import Any, cast
from urllib.parse import unquote_plus

from flask import Response, after_this_request, current_app, request

from authapi import audit, authz, context, db
from authapi.accounts import accounts, passkeys, profiles, users
from authapi.audit import request_meta
from authapi.errors import (
    AccountDisabled,
    EmailUnverified,
    InvalidCredentials,
    MfaRequired,
    TokenInvalid,
    TokenRevoked,
    ValidationError,
)
from authapi.limits import limits
from authapi.sessions import sessions
from authapi.tokens import core, dpop, tokens
from authapi.views import (
    BEARER,
    BEARER_AUTH,
    REFRESH_COOKIE_AUTH,
    Blueprint,
    caller_email,
    paged,
    refuse_body,
    require_json_body,
)
from authapi.views.ops import OK_BODY
from authapi.web import transport
from authapi.web.schemas import (
    HealthSchema,
    LoginSchema,
    PageArgsSchema,
    PasswordChangeSchema,
    ReauthenticateSchema,
    RefreshSchema,
    RegisterSchema,
    SessionPageSchema,
    TokenPairSchema,
    UserSchema,
)

bp = Blueprint("auth", __name__, url_prefix="/auth", description="Users and their sessions.")
CHECK_PARAMETERS = [
    {"in": "query", "name": name, "schema": {"type": "array", "items": {"type": "string"}},
     "style": "form", "explode": True, "required": False, "description": description}
    for name, description in (("role", "any of these roles"), ("scope", "all of these scopes"))
] + [
    {"in": "query", "name": "acr", "schema": {"type": "string", "enum": list(core.ACR_LEVELS)},
     "required": False, "description": "the least sign-in level (RFC 9470)"},
    {"in": "query", "name": "max_age", "schema": {"type": "integer", "minimum": 0},
     "required": False, "description": "the oldest sign-in accepted, seconds (RFC 9470)"},
]
CHECK_RESPONSES = {
    "200": {"description": "The token is valid and meets `role` and `scope`.",
            "headers": {name: {"schema": {"type": "string"}} for name in
                        ("X-Auth-Subject", "X-Auth-Roles", "X-Auth-Scope")},
            "content": {"application/json": {"schema": HealthSchema}}},
    "401": "UNAUTHORIZED", "403": "FORBIDDEN", "422": "UNPROCESSABLE_ENTITY",
}


def deliver(pair: dict[str, Any], cookies: bool) -> dict[str, Any]:
    """In cookie mode the refresh token travels only in an HttpOnly cookie."""
    csrf = pair.pop("csrf", "")
    if cookies:
        refresh_token = pair.pop("refresh_token")

        @after_this_request
        def _set(response: Response) -> Response:
            transport.set_cookies(response, refresh_token, csrf)
            return response

    return pair


@bp.post("/register")
@limits.register_limits
@bp.arguments(RegisterSchema)
@bp.response(201, UserSchema)
def register(body: dict[str, Any]) -> Any:
    """Create an account with the `user` role."""
    user = accounts.register(body["email"], body["password"], body.get("display_name"))
    db.orm().commit()
    return users.profile(user.id)


@bp.post("/login")
@limits.login_limits
@bp.arguments(LoginSchema)
@bp.response(200, TokenPairSchema)
def login(body: dict[str, Any]) -> Any:
    """Exchange an email and password for an access and a refresh token (DPoP-bound by a proof)."""
    jkt = dpop.proof_key_thumbprint()
    try:
        user, sign_in = accounts.authenticate(body["email"], body["password"], body.get("otp"))
    except (InvalidCredentials, AccountDisabled, EmailUnverified, MfaRequired):
        db.orm().commit()  # keep the login_failed audit event
        raise
    pair = sessions.start(user, request_meta(), sign_in, cookies=body["use_cookies"], jkt=jkt)
    db.orm().commit()
    return deliver(pair, body["use_cookies"])


# Built once: a schema's construction copies its fields (about 10 µs of each refresh).
REFRESH_BODY = RefreshSchema(partial=True)


@bp.post("/refresh")
@bp.doc(security=[{BEARER_AUTH: []}, {REFRESH_COOKIE_AUTH: []}, {}], requestBody={
    "required": False, "content": {"application/json": {"schema": RefreshSchema}}})
@bp.response(200, TokenPairSchema)
def refresh() -> Any:
    """Rotate a refresh token (header, JSON body or cookie) into a new pair."""
    jkt = dpop.proof_key_thumbprint()
    body = None
    if context.request().get_data(cache=True):
        body = REFRESH_BODY.load(require_json_body())
    credential = transport.refresh_credential(body)
    by_cookie = credential.source == transport.COOKIE
    claims = tokens.refresh_claims(credential.token, credential.csrf if by_cookie else None)
    if "client_id" in claims:  # an app's refresh token: its client refreshes at /oauth/token
        raise TokenInvalid("This refresh token belongs to an app: use /oauth/token.")
    pair = sessions.rotate(claims, request_meta(), jkt)
    db.commit()
    return deliver(pair, by_cookie)


@bp.post("/logout")
@bp.doc(security=[{BEARER_AUTH: []}, {REFRESH_COOKIE_AUTH: []}])
@bp.response(204)
def logout() -> None:
    """Revoke the session of the presented access token (or of the refresh cookie)."""
    if "Authorization" in request.headers or not transport.has_refresh_cookie():
        claims = authz.authenticate()
        if transport.has_refresh_cookie():  # a cookie session logged out by its access token
            after_this_request(transport.clear_cookies)
    else:
        cookie = transport.cookie_credential()
        claims = tokens.refresh_claims(cookie.token, cookie.csrf)  # CSRF-checked
        after_this_request(transport.clear_cookies)
    refuse_body()
    if "sid" not in claims:  # a service's token has no session to end
        raise TokenInvalid("Only a user's session can be logged out.")
    if not sessions.revoke(claims["sid"], "logout"):  # a refresh cookie of an ended session
        raise TokenRevoked()
    audit.record("logout", user_id=claims["sub"], detail={"session_id": claims["sid"]})
    db.orm().commit()


@bp.post("/logout-all")
@authz.access_required
@bp.response(204)
def logout_all() -> None:
    """Revoke every session of the caller."""
    refuse_body()
    claims = authz.current_claims()
    if "sid" not in claims:  # a service's token has no user whose sessions could end
        raise TokenInvalid("Only a user's sessions can be logged out.")
    count = sessions.revoke_all(claims["sub"], "logout_all")
    if transport.has_refresh_cookie():
        after_this_request(transport.clear_cookies)
    audit.record("logout_all", user_id=claims["sub"], detail={"sessions": count})
    db.orm().commit()


@bp.get("/me")
@authz.access_required
@bp.response(200, UserSchema)
def me() -> Any:
    """The caller's own account."""
    # The cached body, as @bp.response would write it (which passes a Response through).
    return Response(profiles.rendered(authz.current_claims()["sub"], _user_json),
                    mimetype="application/json")


def _user_json(profile: dict[str, Any]) -> bytes:
    return cast(Response, current_app.json.response(UserSchema().dump(profile))).get_data()


@bp.get("/sessions")
@authz.access_required
@bp.arguments(PageArgsSchema, location="query")
@bp.response(200, SessionPageSchema)
def list_sessions(args: dict[str, Any]) -> Any:
    """The caller's live sessions, the current one marked."""
    claims = authz.current_claims()
    return paged(args, lambda page, per_page: sessions.list_active(
        claims["sub"], claims.get("sid"), page, per_page))


@bp.delete("/sessions/<string:session_id>")
@authz.access_required
@bp.response(204)
def delete_session(session_id: str) -> None:
    """Revoke one of the caller's sessions."""
    sessions.delete_own(authz.current_claims()["sub"], session_id)
    db.orm().commit()


@bp.post("/password")
@authz.access_required
@limits.password_check_limits(caller_email)
@bp.arguments(PasswordChangeSchema)
@bp.response(204)
def change_password(body: dict[str, Any]) -> None:
    """Change the caller's password; every other session is revoked."""
    claims = authz.current_claims()
    accounts.change_password(claims["sub"], body["current_password"], body["new_password"],
                             keep_session=claims.get("sid"))
    db.orm().commit()


@bp.post("/reauthenticate")
@authz.access_required
@limits.password_check_limits(caller_email)
@bp.arguments(ReauthenticateSchema)
@bp.response(200, TokenPairSchema)
def reauthenticate(body: dict[str, Any]) -> Any:
    """Prove who you are again (password, with `otp` when MFA is on, or a passkey): a new
    pair in the same session, with a fresh `auth_time` and the `acr`/`amr` just proved."""
    claims = authz.current_claims()
    if "sid" not in claims:  # a service's token has no sign-in to renew
        raise TokenInvalid("Only a user's session can be re-authenticated.")
    try:
        if "password" in body:
            sign_in = accounts.reauthenticate(claims["sub"], body["password"], body.get("otp"))
        else:
            sign_in = passkeys.reauthenticate(claims["sub"], body["challenge_id"],
                                              body["credential"])
    except (InvalidCredentials, AccountDisabled, MfaRequired):
        db.orm().commit()  # keep the login_failed audit event and a spent challenge
        raise
    # The refresh token goes where the session keeps it: a cookie session's old cookie
    # would otherwise come back as a reused token.
    cookies = body["use_cookies"] or transport.has_refresh_cookie()
    # A DPoP-bound token was proven by authz; the new pair is bound to the same key.
    pair = sessions.renew(claims, request_meta(), sign_in, cookies, core.bound_key(claims))
    db.orm().commit()
    return deliver(pair, cookies)


def query_params(query: str) -> dict[str, list[str]]:
    """A query string's parameters, as werkzeug's `request.args` reads them (form
    decoding, blank values kept), without building a MultiDict: /auth/check runs per
    request behind a proxy, and `acr`/`max_age` may cost at most 5 % (bench/stepup.py)."""
    found: dict[str, list[str]] = {}
    for pair in query.split("&"):
        if not pair:
            continue
        name, _, value = pair.partition("=")
        if "%" in name or "+" in name:
            name = unquote_plus(name)
        if "%" in value or "+" in value:
            value = unquote_plus(value)
        found.setdefault(name, []).append(value)
    return found


def _step_up_args(demands: dict[str, list[str]]) -> tuple[str | None, int | None]:
    acrs, ages = demands.get("acr"), demands.get("max_age")
    acr, max_age = acrs[0] if acrs else None, ages[0] if ages else None
    if acr is not None and acr not in core.ACR_LEVELS:
        raise ValidationError(errors={"acr": [f"One of {', '.join(core.ACR_LEVELS)}."]})
    if max_age is not None and not (max_age.isascii() and max_age.isdigit()
                                    and len(max_age) <= 10):
        raise ValidationError(errors={"max_age": ["A whole number of seconds."]})
    return acr, int(max_age) if max_age is not None else None


@bp.get("/check")
@bp.doc(parameters=CHECK_PARAMETERS, security=BEARER, responses=CHECK_RESPONSES)
def check() -> Response:
    """Forward-auth for reverse proxies: 200 with identity headers, 401 or 403 otherwise."""
    claims = authz.authenticate(forwarded=True)
    query = context.request().environ.get("QUERY_STRING")
    if query:  # a proxy's demands (none costs no parsing)
        demands = query_params(query)
        roles = tuple(demands.get("role", ()))
        if roles:
            authz.check_roles(claims, accepted=roles)
        if "scope" in demands:  # each value may itself be a space-delimited list (RFC 6749 §3.3)
            authz.check_scopes(claims, tuple(s for value in demands["scope"]
                                             for s in value.split()))
        if "acr" in demands or "max_age" in demands:  # RFC 9470 step-up
            authz.check_sign_in(claims, *_step_up_args(demands))
    identity = {"X-Auth-Subject": claims["sub"], "X-Auth-Roles": ",".join(claims.get("roles", ())),
                "X-Auth-Scope": claims.get("scope", "")}
    return Response(OK_BODY, status=200, headers=identity, mimetype="application/json")
