"""/auth: register, log in, refresh, log out, sessions, password, forward-auth."""

from __future__ import annotations

from typing import Any

from flask import Response, after_this_request, request
from flask_jwt_extended import (
    get_jwt,
    get_jwt_request_location,
    set_refresh_cookies,
    unset_refresh_cookies,
    verify_jwt_in_request,
)

from .. import accounts, audit, authz, db, limits, sessions
from ..audit import request_meta
from ..errors import AccountDisabled, InvalidCredentials, TokenInvalid
from ..schemas import (
    LoginSchema,
    PageArgsSchema,
    PasswordChangeSchema,
    RefreshSchema,
    RegisterSchema,
    SessionPageSchema,
    TokenPairSchema,
    UserSchema,
)
from . import Blueprint, require_json_body
from .ops import OK_BODY

bp = Blueprint("auth", __name__, url_prefix="/auth", description="Users and their sessions.")
MAX_PER_PAGE = 100
CHECK_PARAMETERS = [
    {"in": "query", "name": name, "schema": {"type": "array", "items": {"type": "string"}},
     "style": "form", "explode": True, "required": False, "description": description}
    for name, description in (("role", "any of these roles"), ("scope", "all of these scopes"))
]


def _deliver(pair: dict[str, Any], cookies: bool) -> dict[str, Any]:
    """In cookie mode the refresh token travels only in an HttpOnly cookie."""
    if cookies:
        refresh_token = pair.pop("refresh_token")

        @after_this_request
        def _set(response: Response) -> Response:
            set_refresh_cookies(response, refresh_token)
            return response

    return pair


def _clear_cookies(response: Response) -> Response:
    unset_refresh_cookies(response)
    return response


@bp.post("/register")
@bp.arguments(RegisterSchema)
@bp.response(201, UserSchema)
def register(body: dict[str, Any]) -> Any:
    """Create an account with the `user` role."""
    user = accounts.register(body["email"], body["password"], body.get("display_name"))
    db.session().commit()
    return accounts.describe(user.id)


@bp.post("/login")
@limits.login_limits
@bp.arguments(LoginSchema)
@bp.response(200, TokenPairSchema)
def login(body: dict[str, Any]) -> Any:
    """Exchange an email and password for an access and a refresh token."""
    try:
        user = accounts.authenticate(body["email"], body["password"])
    except (InvalidCredentials, AccountDisabled):
        db.session().commit()  # keep the login_failed audit event
        raise
    pair = sessions.start(user, request_meta(), cookies=body["use_cookies"])
    db.session().commit()
    return _deliver(pair, body["use_cookies"])


@bp.post("/refresh")
@bp.response(200, TokenPairSchema)
def refresh() -> Any:
    """Rotate a refresh token (header, JSON body or cookie) into a new pair."""
    if request.get_data(cache=True):
        RefreshSchema(partial=True).load(require_json_body())
    verify_jwt_in_request(refresh=True, locations=["headers", "json", "cookies"])
    pair = sessions.rotate(get_jwt(), request_meta())
    db.session().commit()
    return _deliver(pair, get_jwt_request_location() == "cookies")


@bp.post("/logout")
@bp.response(204)
def logout() -> None:
    """Revoke the session of the presented access token (or of the refresh cookie)."""
    if "Authorization" in request.headers or "refresh_token_cookie" not in request.cookies:
        claims = authz.authenticate()
    else:
        verify_jwt_in_request(refresh=True, locations=["cookies"])  # CSRF-checked
        claims = get_jwt()
        after_this_request(_clear_cookies)
    if "sid" not in claims:  # a service's token has no session to end
        raise TokenInvalid("Only a user's session can be logged out.")
    sessions.revoke(claims["sid"], "logout")
    audit.record("logout", user_id=claims["sub"], detail={"session_id": claims["sid"]})
    db.session().commit()


@bp.post("/logout-all")
@authz.access_required
@bp.response(204)
def logout_all() -> None:
    """Revoke every session of the caller."""
    claims = authz.current_claims()
    count = sessions.revoke_all(claims["sub"], "logout_all")
    audit.record("logout_all", user_id=claims["sub"], detail={"sessions": count})
    db.session().commit()


@bp.get("/me")
@authz.access_required
@bp.response(200, UserSchema)
def me() -> Any:
    """The caller's own account."""
    return accounts.describe(authz.current_claims()["sub"])


@bp.get("/sessions")
@authz.access_required
@bp.arguments(PageArgsSchema, location="query")
@bp.response(200, SessionPageSchema)
def list_sessions(args: dict[str, Any]) -> Any:
    """The caller's live sessions, the current one marked."""
    claims = authz.current_claims()
    page, per_page = args["page"], min(args["per_page"], MAX_PER_PAGE)
    rows, total = sessions.live(claims["sub"], page, per_page)
    items = [{**row.__dict__, "current": row.id == claims.get("sid")} for row in rows]
    return {"items": items, "page": page, "per_page": per_page, "total": total}


@bp.delete("/sessions/<string:session_id>")
@authz.access_required
@bp.response(204)
def delete_session(session_id: str) -> None:
    """Revoke one of the caller's sessions."""
    sessions.delete_own(authz.current_claims()["sub"], session_id)
    db.session().commit()


@bp.post("/password")
@authz.access_required
@bp.arguments(PasswordChangeSchema)
@bp.response(204)
def change_password(body: dict[str, Any]) -> None:
    """Change the caller's password; every other session is revoked."""
    claims = authz.current_claims()
    accounts.change_password(claims["sub"], body["current_password"], body["new_password"],
                             keep_session=claims.get("sid"))
    db.session().commit()


@bp.get("/check")
@bp.doc(parameters=CHECK_PARAMETERS)
def check() -> Response:
    """Forward-auth for reverse proxies: 200 with identity headers, 401 or 403 otherwise."""
    claims = authz.authenticate()
    roles = tuple(request.args.getlist("role"))
    if roles:
        authz.check_roles(claims, accepted=roles)
    authz.check_scopes(claims, tuple(request.args.getlist("scope")))
    identity = {"X-Auth-Subject": claims["sub"], "X-Auth-Roles": ",".join(claims.get("roles", ())),
                "X-Auth-Scope": claims.get("scope", "")}
    return Response(OK_BODY, status=200, headers=identity, mimetype="application/json")
