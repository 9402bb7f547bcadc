"""/auth: register, login, refresh, sessions, passkeys, provider identities."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from authapi.web.schemas.base import (
    EmailText,
    StrictSchema,
    Text,
    normalized_length,
)


class RegisterSchema(StrictSchema):
    """POST /auth/register."""

    email = EmailText(required=True)
    password = Text(required=True)
    display_name = Text(validate=validate.Length(min=1, max=100), allow_none=True)


class LoginSchema(StrictSchema):
    """POST /auth/login."""

    email = Text(required=True, validate=[validate.Length(min=1, max=320), normalized_length])
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


# --- passkeys ---


class PasskeyRegisterSchema(StrictSchema):
    """POST /auth/passkeys/register/verify."""

    challenge_id = Text(required=True, validate=validate.Length(max=64))
    credential = fields.Dict(required=True)  # the browser's PublicKeyCredential.toJSON()
    name = Text(validate=validate.Length(min=1, max=100), allow_none=True)


class PasskeyLoginOptionsSchema(StrictSchema):
    """POST /auth/passkeys/login/options; no email asks for a discoverable credential."""

    email = Text(validate=[validate.Length(min=1, max=320), normalized_length], allow_none=True)


class PasskeyLoginSchema(StrictSchema):
    """POST /auth/passkeys/login/verify."""

    challenge_id = Text(required=True, validate=validate.Length(max=64))
    credential = fields.Dict(required=True)
    use_cookies = fields.Boolean(load_default=False)


class ReauthenticateSchema(StrictSchema):
    """POST /auth/reauthenticate: the password (and `otp` with MFA on), or a passkey
    assertion to a challenge from /auth/passkeys/login/options."""

    password = Text()
    otp = Text(validate=validate.Length(min=1, max=64))
    challenge_id = Text(validate=validate.Length(max=64))
    credential = fields.Dict()
    use_cookies = fields.Boolean(load_default=False, metadata={
        "description": "deliver the refresh token as the HttpOnly cookie (also when the "
                       "request carries the refresh cookie)"})

    @validates_schema
    def _one_proof(self, data: dict[str, Any], **_kwargs: Any) -> None:
        by_passkey = "challenge_id" in data or "credential" in data
        if "password" in data and by_passkey:
            raise ValidationError("Send a password or a passkey assertion, not both.",
                                  field_name="password")
        if by_passkey and not ("challenge_id" in data and "credential" in data):
            raise ValidationError("A passkey assertion needs challenge_id and credential.",
                                  field_name="credential")
        if not by_passkey and "password" not in data:
            raise ValidationError("Missing data for required field.", field_name="password")
        if by_passkey and "otp" in data:
            raise ValidationError("otp goes with a password.", field_name="otp")


class PasskeyOptionsSchema(Schema):
    """A ceremony's options: the challenge's id and the browser's `publicKey` options."""

    challenge_id = fields.String()
    publicKey = fields.Dict()  # the WebAuthn JSON name, camel case


class PasskeySchema(Schema):
    """A passkey as its owner sees it."""

    id = fields.String()
    name = fields.String()
    created_at = fields.DateTime()
    last_used_at = fields.DateTime(allow_none=True)


class PasskeyPageSchema(Schema):
    """A page of passkeys."""

    items = fields.List(fields.Nested(PasskeySchema))
    page = fields.Integer()
    per_page = fields.Integer()
    total = fields.Integer()


# --- OpenID Connect login (issue 12) ---


class IdentitySchema(Schema):
    """An account at an OpenID Connect provider, linked to the caller."""

    id = fields.String()
    provider = fields.String()
    subject = fields.String()
    email = fields.String(allow_none=True)
    created_at = fields.DateTime()
    last_login_at = fields.DateTime()


class IdentityPageSchema(Schema):
    """A page of linked identities."""

    items = fields.List(fields.Nested(IdentitySchema))
    page = fields.Integer()
    per_page = fields.Integer()
    total = fields.Integer()
