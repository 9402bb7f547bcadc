"""/auth/oidc: sign in with an OpenID Connect provider; list and unlink linked identities."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app

from authapi import authz, db
from authapi.accounts import links, oidc
from authapi.audit import request_meta
from authapi.errors import AccountDisabled, InvalidCredentials
from authapi.sessions import sessions
from authapi.tokens import tokens
from authapi.views import Blueprint, paged
from authapi.web import transport
from authapi.web.schemas import IdentityPageSchema, PageArgsSchema

bp = Blueprint("oidc", __name__, url_prefix="/auth/oidc",
               description="Sign in with an OpenID Connect provider.")
REDIRECT = {"302": {"description": "A redirect (Location)."}}


def _redirect(location: str) -> Response:
    """A bare 302 to `location`."""
    return Response(status=302, headers={"Location": location})


@bp.get("/<string:provider>/login")
@bp.doc(responses=REDIRECT)
def login(provider: str) -> Response:
    """302 to the provider, with state, nonce and a PKCE S256 challenge bound to this browser."""
    return _redirect(oidc.authorization_url(provider))


@bp.get("/<string:provider>/callback")
@bp.doc(responses=REDIRECT)
def callback(provider: str) -> Response:
    """Verify the provider's answer, sign the user in by the refresh cookie, 302 to the app."""
    tokens.load_signing_key()  # before the sign-in writes anything (tokens.load_signing_key)
    try:
        claims = oidc.verified_claims(provider)
        user = oidc.sign_in(provider, claims)
    except oidc.SignInRefused as refused:
        db.orm().commit()  # keep the login_failed audit event and the notice mail
        return _redirect(links.frontend("/", error=refused.code))
    except (InvalidCredentials, AccountDisabled):
        db.orm().commit()  # keep the login_failed audit event
        raise
    pair = sessions.start(user, request_meta(), oidc.sign_in_context(claims), cookies=True,
                          method="oidc")
    db.orm().commit()
    response = _redirect(current_app.config["AUTHAPI_FRONTEND_URL"])
    transport.set_cookies(response, pair["refresh_token"], pair["csrf"])
    return response


@bp.get("/identities")
@authz.access_required
@bp.arguments(PageArgsSchema, location="query")
@bp.response(200, IdentityPageSchema)
def list_identities(args: dict[str, Any]) -> Any:
    """The caller's linked provider accounts."""
    caller = authz.current_claims()["sub"]
    return paged(args, lambda page, per_page: oidc.list_identities(caller, page, per_page))


@bp.delete("/identities/<string:identity_id>")
@authz.access_required
@bp.response(204)
def unlink(identity_id: str) -> None:
    """Unlink one of the caller's provider accounts (not the last way to sign in)."""
    oidc.unlink(authz.current_claims()["sub"], identity_id)
    db.orm().commit()
