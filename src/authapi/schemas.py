"""Request schemas (unknown fields are an error) and response schemas."""

from __future__ import annotations

from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate


def storable(value: str) -> None:
    """Refuse text no database column can hold: NUL characters and lone surrogates."""
    if "\x00" in value:
        raise ValidationError("NUL characters are not allowed.")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationError("Not valid Unicode text.") from None


class Text(fields.String):
    """A string field that only accepts storable text."""

    def __init__(self, **kwargs: Any) -> None:
        extra = kwargs.pop("validate", None)
        validators = [storable, *([extra] if callable(extra) else list(extra or []))]
        super().__init__(validate=validators, **kwargs)


class EmailText(fields.Email):
    """An email address that only accepts storable text."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(validate=[storable, validate.Length(max=320)], **kwargs)



class StrictSchema(Schema):
    """A request body: unknown fields are rejected, never ignored."""

    class Meta:
        unknown = RAISE


# Password lengths are the policy's to judge (422 weak_password), not the schema's;
# the 64 KiB body limit bounds them.


class RegisterSchema(StrictSchema):
    """POST /auth/register."""

    email = EmailText(required=True)
    password = Text(required=True)
    display_name = Text(validate=validate.Length(min=1, max=100), allow_none=True)


class LoginSchema(StrictSchema):
    """POST /auth/login."""

    email = Text(required=True, validate=validate.Length(min=1, max=320))
    password = Text(required=True)
    otp = Text(validate=validate.Length(min=1, max=64))
    use_cookies = fields.Boolean(load_default=False)


class RefreshSchema(StrictSchema):
    """POST /auth/refresh, when the token comes in the body."""

    refresh_token = Text(required=True, validate=validate.Length(max=8192))


class PasswordChangeSchema(StrictSchema):
    """POST /auth/password."""

    current_password = Text(required=True)
    new_password = Text(required=True)


class PageArgsSchema(StrictSchema):
    """?page&per_page of a list."""

    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=1_000_000))
    per_page = fields.Integer(load_default=20, validate=validate.Range(min=1))


class TokenPairSchema(Schema):
    """The token response (RFC 6749 §5.1 shape)."""

    access_token = fields.String(required=True)
    refresh_token = fields.String()
    token_type = fields.String(required=True)
    expires_in = fields.Integer(required=True)


class UserSchema(Schema):
    """A user as the API shows it."""

    id = fields.String()
    email = fields.String()
    display_name = fields.String(allow_none=True)
    roles = fields.List(fields.String())
    scope = fields.String()
    email_verified = fields.Boolean()
    mfa_enabled = fields.Boolean()
    created_at = fields.DateTime()


class SessionSchema(Schema):
    """One login session as its owner sees it."""

    id = fields.String()
    created_at = fields.DateTime()
    last_used_at = fields.DateTime()
    user_agent = fields.String(allow_none=True)
    ip = fields.String(allow_none=True)
    current = fields.Boolean()


class SessionPageSchema(Schema):
    """A page of sessions."""

    items = fields.List(fields.Nested(SessionSchema))
    page = fields.Integer()
    per_page = fields.Integer()
    total = fields.Integer()


# --- account lifecycle: password reset, email verification and change, TOTP MFA ---


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


class ProblemSchema(Schema):
    """RFC 9457 problem details, with the stable `code` clients switch on."""

    type = fields.String()
    title = fields.String()
    status = fields.Integer()
    detail = fields.String()
    code = fields.String(required=True)
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))


class HealthSchema(Schema):
    """A health check's answer."""

    status = fields.String()
