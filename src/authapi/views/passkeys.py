"""/auth/passkeys: register, list and remove passkeys; sign in with one (WebAuthn)."""

from __future__ import annotations

from typing import Any

from authapi import authz, db
from authapi.accounts import passkeys
from authapi.audit import request_meta
from authapi.errors import AccountDisabled, InvalidCredentials
from authapi.limits import limits
from authapi.sessions import sessions
from authapi.tokens import dpop
from authapi.views import Blueprint, paged, refuse_body
from authapi.views.auth import deliver
from authapi.web.schemas import (
    PageArgsSchema,
    PasskeyLoginOptionsSchema,
    PasskeyLoginSchema,
    PasskeyOptionsSchema,
    PasskeyPageSchema,
    PasskeyRegisterSchema,
    PasskeySchema,
    TokenPairSchema,
)

bp = Blueprint("passkeys", __name__, url_prefix="/auth/passkeys",
               description="Passkeys (WebAuthn): sign in without a password.")


@bp.post("/register/options")
@authz.recent_sign_in_required
@bp.response(200, PasskeyOptionsSchema)
def register_options() -> Any:
    """Creation options for a new passkey of the caller."""
    refuse_body()
    options = passkeys.registration_options(authz.current_claims()["sub"])
    db.orm().commit()
    return options


@bp.post("/register/verify")
@authz.recent_sign_in_required
@bp.arguments(PasskeyRegisterSchema)
@bp.response(201, PasskeySchema)
def register_verify(body: dict[str, Any]) -> Any:
    """Verify the browser's new credential and keep it as the caller's passkey."""
    try:
        row = passkeys.register(authz.current_claims()["sub"], body["challenge_id"],
                                body["credential"], body.get("name"))
    except InvalidCredentials:
        db.orm().commit()  # the challenge stays used
        raise
    db.orm().commit()
    return row


@bp.get("")
@authz.access_required
@bp.arguments(PageArgsSchema, location="query")
@bp.response(200, PasskeyPageSchema)
def list_passkeys(args: dict[str, Any]) -> Any:
    """The caller's passkeys."""
    caller = authz.current_claims()["sub"]
    return paged(args, lambda page, per_page: passkeys.list_own(caller, page, per_page))


@bp.delete("/<string:passkey_id>")
@authz.access_required
@bp.response(204)
def remove(passkey_id: str) -> None:
    """Remove one of the caller's passkeys; never the account's last way to sign in."""
    passkeys.remove(authz.current_claims()["sub"], passkey_id)
    db.orm().commit()


@bp.post("/login/options")
@limits.address_limits("AUTHAPI_LOGIN_RATE_PER_ADDRESS", "login-address")
@bp.arguments(PasskeyLoginOptionsSchema)
@bp.response(200, PasskeyOptionsSchema)
def login_options(body: dict[str, Any]) -> Any:
    """Request options: the email's passkeys, or any discoverable passkey."""
    options = passkeys.login_options(body.get("email"))
    db.orm().commit()
    return options


@bp.post("/login/verify")
@limits.login_limits
@bp.arguments(PasskeyLoginSchema)
@bp.response(200, TokenPairSchema)
def login_verify(body: dict[str, Any]) -> Any:
    """Exchange a passkey assertion for the same pair (and cookies) as /auth/login."""
    jkt = dpop.proof_key_thumbprint()  # RFC 9449: a proof binds the tokens to its key
    try:
        user, sign_in = passkeys.authenticate(body["challenge_id"], body["credential"])
    except (InvalidCredentials, AccountDisabled):
        db.orm().commit()  # keep the challenge used and the login_failed audit event
        raise
    pair = sessions.start(user, request_meta(), sign_in, cookies=body["use_cookies"],
                          method="passkey", jkt=jkt)
    db.orm().commit()
    return deliver(pair, body["use_cookies"])
