"""TOTP MFA (RFC 6238, pyotp) with one-time recovery codes.

The flow is stateless for the client: `setup` stores a pending secret on the server
and shows it once (secret, otpauth URI, QR code); `enable` proves the authenticator
has it. The secret is Fernet-encrypted at rest, recovery codes are kept as keyed
hashes, and each TOTP step is accepted once.
"""

from __future__ import annotations

import base64
import hmac
import io
import secrets
import time
from datetime import datetime
from typing import Any

import pyotp
import segno
from sqlalchemy import delete, update

from authapi import audit, db
from authapi.accounts import notices, passwords
from authapi.accounts.users import get
from authapi.db import utcnow
from authapi.errors import Conflict, InvalidCredentials, MfaRequired, ValidationError
from authapi.models import RecoveryCode, TotpFactor, User
from authapi.tokens import secretbox

SEALED = "totp secrets"
HASHED = "recovery codes"
ISSUER = "authapi"
STEP = 30
WINDOW = 1  # steps either side of now (RFC 6238 §5.2)
RECOVERY_CODES = 10
OTP = "otp"  # RFC 8176
clock = time.time  # the seam tests turn to freeze TOTP time


def _qr_svg(uri: str) -> str:
    buffer = io.BytesIO()
    segno.make(uri, error="m").save(buffer, kind="svg", xmldecl=False, scale=4, border=2)
    return buffer.getvalue().decode()


def setup(user_id: str) -> dict[str, Any]:
    """A new pending secret for the caller: secret, otpauth:// URI and the URI as a QR SVG."""
    user = get(user_id)
    if user.mfa_enabled:
        raise Conflict("MFA is already on; disable it before setting it up again.")
    secret = pyotp.random_base32()
    sealed = secretbox.seal(secret, SEALED)
    row = db.orm().get(TotpFactor, user.id)
    if row is None:
        db.orm().add(TotpFactor(user_id=user.id, secret=sealed, enabled=False, last_step=0))
    else:
        row.secret, row.enabled, row.last_step = sealed, False, 0
    uri = pyotp.TOTP(secret, interval=STEP).provisioning_uri(name=user.email, issuer_name=ISSUER)
    audit.record("mfa_setup", user_id=user.id)
    return {"secret": secret, "otpauth_uri": uri, "qr_svg": _qr_svg(uri)}


def _step_of(row: TotpFactor, code: str) -> int | None:
    """The time step whose code this is, within ±WINDOW of now; None if it matches none."""
    code = code.replace(" ", "")
    if len(code) != 6 or not (code.isascii() and code.isdigit()):  # not '١٢٣٤٥٦'
        return None
    totp = pyotp.TOTP(secretbox.unseal(row.secret, SEALED), interval=STEP)
    now = int(clock()) // STEP
    for step in range(now - WINDOW, now + WINDOW + 1):
        if hmac.compare_digest(totp.at(step * STEP), code):
            return step
    return None


def _accept_totp(user_id: str, code: str) -> bool:
    """Accept a TOTP code once: its step must be later than the last one accepted."""
    row = db.orm().get(TotpFactor, user_id)
    step = None if row is None else _step_of(row, code)
    if step is None:
        return False
    # One conditional UPDATE: of two concurrent uses of one code exactly one wins.
    return db.affected(update(TotpFactor).where(
        TotpFactor.user_id == user_id, TotpFactor.last_step < step).values(last_step=step)) == 1


def _code_hash(user_id: str, code: str) -> str:
    normal = code.replace("-", "").replace(" ", "").lower()
    return secretbox.keyed_hash(f"{user_id}:{normal}", HASHED)


def _new_codes(user_id: str) -> list[str]:
    db.affected(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = base64.b32encode(secrets.token_bytes(10)).decode().lower()  # 80 bits
        codes.append("-".join(raw[i:i + 4] for i in range(0, 16, 4)))
        db.orm().add(RecoveryCode(code_hash=_code_hash(user_id, codes[-1]), user_id=user_id))
    return codes


def _use_recovery_code(user_id: str, code: str) -> bool:
    if len(code) > 64:
        return False
    return db.affected(update(RecoveryCode).where(
        RecoveryCode.user_id == user_id, RecoveryCode.code_hash == _code_hash(user_id, code),
        RecoveryCode.used_at.is_(None)).values(used_at=utcnow())) == 1


def enable(user_id: str, otp: str) -> list[str]:
    """Turn MFA on with a valid code from the pending secret; the 10 new recovery codes."""
    user = get(user_id)
    row = db.orm().get(TotpFactor, user.id)
    if user.mfa_enabled or row is None:
        raise Conflict("MFA is already on." if user.mfa_enabled else
                       "No pending TOTP secret: call /auth/mfa/totp/setup first.")
    if not _accept_totp(user.id, otp):
        raise ValidationError(errors={"otp": ["The code is wrong or expired."]})
    row.enabled = user.mfa_enabled = True
    row.enabled_at = utcnow()
    codes = _new_codes(user.id)
    notices.account_changed(user, notices.TOTP_ENABLED)
    audit.record("mfa_enabled", user_id=user.id, detail={"method": "totp"})
    return codes


def disable(user_id: str, password: str) -> None:
    """Turn MFA off after checking the password; the secret and recovery codes are deleted."""
    user = get(user_id)
    ok, _ = passwords.verify(password, user.password_hash)
    if not ok:
        raise InvalidCredentials("The password is wrong.")
    db.affected(delete(TotpFactor).where(TotpFactor.user_id == user.id))
    db.affected(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    if user.mfa_enabled:
        user.mfa_enabled = False
        notices.account_changed(user, notices.TOTP_DISABLED)
        audit.record("mfa_disabled", user_id=user.id)


def undo_recent(user: User, since: datetime) -> bool:
    """Turn off TOTP that was turned on after `since` (a password reset undoes what a
    stolen session may just have added); whether it did."""
    row = db.orm().get(TotpFactor, user.id)
    if not user.mfa_enabled or row is None or row.enabled_at is None or row.enabled_at < since:
        return False
    db.affected(delete(TotpFactor).where(TotpFactor.user_id == user.id))
    db.affected(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    user.mfa_enabled = False
    audit.record("mfa_disabled", user_id=user.id, detail={"reason": "password_reset"})
    return True


def check_login(user: User, otp: str | None) -> tuple[str, ...]:
    """With MFA on, a login needs a fresh TOTP code or an unused recovery code; the
    RFC 8176 method it proved (`otp`), or none with MFA off."""
    if not user.mfa_enabled:
        return ()
    if not otp:
        raise MfaRequired()
    if _accept_totp(user.id, otp):
        return (OTP,)
    if _use_recovery_code(user.id, otp):  # a one-time password too (RFC 8176 `otp`)
        audit.record("mfa_recovery_code_used", user_id=user.id)
        return (OTP,)
    audit.record("login_failed", user_id=user.id, detail={"reason": "wrong_otp"})
    raise InvalidCredentials()
