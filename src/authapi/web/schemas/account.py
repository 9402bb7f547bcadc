"""/auth account lifecycle: password reset, email links, email change, TOTP."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from authapi.web.schemas.base import (
    EmailText,
    StrictSchema,
    Text,
)


class PasswordResetSchema(StrictSchema):
    """POST /auth/password-reset."""

    email = EmailText(required=True)


class LinkTokenSchema(StrictSchema):
    """POST /auth/verify-email/confirm and /auth/email/confirm: the token of a mailed link."""

    token = Text(required=True, validate=validate.Length(min=1, max=128))


class PasswordResetConfirmSchema(LinkTokenSchema):
    """POST /auth/password-reset/confirm."""

    new_password = Text(required=True)


class EmailChangeSchema(StrictSchema):
    """POST /auth/email (beyond the contract): ask to move the account to a new address."""

    new_email = EmailText(required=True)
    password = Text(required=True)


class OtpSchema(StrictSchema):
    """POST /auth/mfa/totp/enable."""

    otp = Text(required=True, validate=validate.Length(min=1, max=64))


class PasswordSchema(StrictSchema):
    """POST /auth/mfa/totp/disable."""

    password = Text(required=True)


class TotpSetupSchema(Schema):
    """A pending TOTP secret, shown once."""

    secret = fields.String(required=True)
    otpauth_uri = fields.String(required=True)
    qr_svg = fields.String(metadata={"description": "the otpauth URI as a QR code (SVG)"})


class RecoveryCodesSchema(Schema):
    """The one-time recovery codes, shown once."""

    recovery_codes = fields.List(fields.String(), required=True)


class AcceptedSchema(Schema):
    """A 202: the request is taken; any mail follows."""

    status = fields.String()
