"""/auth: password reset, email verification and change, TOTP MFA."""

from __future__ import annotations

from typing import Any

from authapi import authz, db
from authapi.accounts import addresses, mfa, recovery
from authapi.limits import limits
from authapi.oauth import consents
from authapi.views import Blueprint, caller_email, paged, refuse_body
from authapi.web.schemas import (
    AcceptedSchema,
    ConsentPageSchema,
    EmailChangeSchema,
    LinkTokenSchema,
    OtpSchema,
    PageArgsSchema,
    PasswordResetConfirmSchema,
    PasswordResetSchema,
    PasswordSchema,
    RecoveryCodesSchema,
    TotpSetupSchema,
)

bp = Blueprint("account", __name__, url_prefix="/auth",
               description="Account recovery, email addresses and MFA.")
ACCEPTED = {"status": "accepted"}


@bp.post("/password-reset")
@limits.reset_limits
@bp.arguments(PasswordResetSchema)
@bp.response(202, AcceptedSchema)
def password_reset(body: dict[str, Any]) -> Any:
    """Mail a reset link if the account exists; 202 either way."""
    recovery.request_reset(body["email"])
    db.orm().commit()
    return ACCEPTED


@bp.post("/password-reset/confirm")
@bp.arguments(PasswordResetConfirmSchema)
@bp.response(204)
def password_reset_confirm(body: dict[str, Any]) -> None:
    """Set a new password with a reset link's token; every session is revoked."""
    recovery.confirm_reset(body["token"], body["new_password"])
    db.orm().commit()


@bp.post("/verify-email")
@authz.access_required
@bp.response(202, AcceptedSchema)
def verify_email() -> Any:
    """Mail the caller a verification link (nothing when already verified)."""
    refuse_body()
    caller_email()  # a user's token: a service has no address to verify (401)
    addresses.request_verification(authz.current_claims()["sub"])
    db.orm().commit()
    return ACCEPTED


@bp.post("/verify-email/confirm")
@bp.arguments(LinkTokenSchema)
@bp.response(204)
def verify_email_confirm(body: dict[str, Any]) -> None:
    """Mark the address as verified with a verification link's token."""
    addresses.confirm_verification(body["token"])
    db.orm().commit()


@bp.post("/email")
@authz.recent_sign_in_required
@limits.password_check_limits(caller_email)
@bp.arguments(EmailChangeSchema)
@bp.response(202, AcceptedSchema)
def change_email(body: dict[str, Any]) -> Any:
    """Ask to change the address: a link to the new one, a notice to the old one."""
    addresses.request_change(authz.current_claims()["sub"], body["new_email"], body["password"])
    db.orm().commit()
    return ACCEPTED


@bp.post("/email/confirm")
@bp.arguments(LinkTokenSchema)
@bp.response(204)
def change_email_confirm(body: dict[str, Any]) -> None:
    """Switch to the new address with the token of the link sent to it."""
    addresses.confirm_change(body["token"])
    db.orm().commit()


@bp.post("/mfa/totp/setup")
@authz.recent_sign_in_required
@bp.response(200, TotpSetupSchema)
def totp_setup() -> Any:
    """A new pending TOTP secret, its otpauth:// URI and QR code."""
    refuse_body()
    secret = mfa.setup(authz.current_claims()["sub"])
    db.orm().commit()
    return secret


@bp.post("/mfa/totp/enable")
@authz.recent_sign_in_required
@bp.arguments(OtpSchema)
@bp.response(200, RecoveryCodesSchema)
def totp_enable(body: dict[str, Any]) -> Any:
    """Turn MFA on with a current code; returns 10 one-time recovery codes."""
    codes = mfa.enable(authz.current_claims()["sub"], body["otp"])
    db.orm().commit()
    return {"recovery_codes": codes}


@bp.post("/mfa/totp/disable")
@authz.recent_sign_in_required
@limits.password_check_limits(caller_email)
@bp.arguments(PasswordSchema)
@bp.response(204)
def totp_disable(body: dict[str, Any]) -> None:
    """Turn MFA off; needs the password."""
    mfa.disable(authz.current_claims()["sub"], body["password"])
    db.orm().commit()


@bp.get("/consents")
@authz.access_required
@bp.arguments(PageArgsSchema, location="query")
@bp.response(200, ConsentPageSchema)
def list_consents(args: dict[str, Any]) -> Any:
    """The apps the caller let in, and what each may have."""
    caller = authz.current_claims()["sub"]
    return paged(args, lambda page, per_page: consents.list_own(caller, page, per_page))


@bp.delete("/consents/<path:client_id>")
@authz.access_required
@bp.response(204)
def withdraw_consent(client_id: str) -> None:
    """Withdraw an app's grant; every token it holds for the caller is revoked."""
    consents.withdraw(authz.current_claims()["sub"], client_id)
    db.orm().commit()
