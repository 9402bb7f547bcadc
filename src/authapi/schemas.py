"""Request schemas (unknown fields are an error) and response schemas."""

from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate

EMAIL_LENGTH = validate.Length(max=320)
# Long enough for any password the policy accepts; the policy gives the exact answer.
PASSWORD_FIELD_LENGTH = validate.Length(min=1, max=4096)


class StrictSchema(Schema):
    """A request body: unknown fields are rejected, never ignored."""

    class Meta:
        unknown = RAISE


class RegisterSchema(StrictSchema):
    email = fields.Email(required=True, validate=EMAIL_LENGTH)
    password = fields.String(required=True, validate=PASSWORD_FIELD_LENGTH)
    display_name = fields.String(validate=validate.Length(min=1, max=100), allow_none=True)


class LoginSchema(StrictSchema):
    email = fields.String(required=True, validate=validate.Length(min=1, max=320))
    password = fields.String(required=True, validate=PASSWORD_FIELD_LENGTH)
    otp = fields.String(validate=validate.Length(max=64))
    use_cookies = fields.Boolean(load_default=False)


class RefreshSchema(StrictSchema):
    refresh_token = fields.String(required=True, validate=validate.Length(max=8192))


class PasswordChangeSchema(StrictSchema):
    current_password = fields.String(required=True, validate=PASSWORD_FIELD_LENGTH)
    new_password = fields.String(required=True, validate=PASSWORD_FIELD_LENGTH)


class PageArgsSchema(StrictSchema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=1_000_000))
    per_page = fields.Integer(load_default=20, validate=validate.Range(min=1))


class CheckArgsSchema(StrictSchema):
    role = fields.List(fields.String(validate=validate.Length(max=64)), load_default=list)
    scope = fields.List(fields.String(validate=validate.Length(max=64)), load_default=list)


class TokenPairSchema(Schema):
    access_token = fields.String(required=True)
    refresh_token = fields.String()
    token_type = fields.String(required=True)
    expires_in = fields.Integer(required=True)


class UserSchema(Schema):
    id = fields.String()
    email = fields.String()
    display_name = fields.String(allow_none=True)
    roles = fields.List(fields.String())
    scope = fields.String()
    email_verified = fields.Boolean()
    mfa_enabled = fields.Boolean()
    created_at = fields.DateTime()


class SessionSchema(Schema):
    id = fields.String()
    created_at = fields.DateTime()
    last_used_at = fields.DateTime()
    user_agent = fields.String(allow_none=True)
    ip = fields.String(allow_none=True)
    current = fields.Boolean()


class SessionPageSchema(Schema):
    items = fields.List(fields.Nested(SessionSchema))
    page = fields.Integer()
    per_page = fields.Integer()
    total = fields.Integer()


class ProblemSchema(Schema):
    """RFC 9457 problem details, with the stable `code` clients switch on."""

    type = fields.String()
    title = fields.String()
    status = fields.Integer()
    detail = fields.String()
    code = fields.String(required=True)
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))


class HealthSchema(Schema):
    status = fields.String()
