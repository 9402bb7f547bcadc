"""Request schemas (unknown fields are an error) and response schemas."""

from __future__ import annotations

from datetime import UTC
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


# --- passkeys ---


class PasskeyRegisterSchema(StrictSchema):
    """POST /auth/passkeys/register/verify."""

    challenge_id = Text(required=True, validate=validate.Length(max=64))
    credential = fields.Dict(required=True)  # the browser's PublicKeyCredential.toJSON()
    name = Text(validate=validate.Length(min=1, max=100), allow_none=True)


class PasskeyLoginOptionsSchema(StrictSchema):
    """POST /auth/passkeys/login/options; no email asks for a discoverable credential."""

    email = Text(validate=validate.Length(min=1, max=320), allow_none=True)


class PasskeyLoginSchema(StrictSchema):
    """POST /auth/passkeys/login/verify."""

    challenge_id = Text(required=True, validate=validate.Length(max=64))
    credential = fields.Dict(required=True)
    use_cookies = fields.Boolean(load_default=False)


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


class ProblemSchema(Schema):
    """RFC 9457 problem details, with the stable `code` clients switch on."""

    type = fields.String()
    title = fields.String()
    status = fields.Integer()
    detail = fields.String()
    code = fields.String(required=True)
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))


class OAuthErrorSchema(Schema):
    """An error of the /oauth/* endpoints (RFC 6749 §5.2), not a problem document."""

    error = fields.String(required=True)
    error_description = fields.String()


class HealthSchema(Schema):
    """A health check's answer."""

    status = fields.String()


# --- administration: users, roles, audit (issue 9) ---


def page_of(item: type[Schema], name: str) -> type[Schema]:
    """The contract's list shape `{items, page, per_page, total}` around an item schema."""
    return Schema.from_dict({"items": fields.List(fields.Nested(item)), "page": fields.Integer(),
                             "per_page": fields.Integer(), "total": fields.Integer()}, name=name)


def utc_convertible(value: Any) -> None:
    """Refuse an instant that does not survive conversion to UTC (year 1 at +01:00)."""
    try:
        value.astimezone(UTC)
    except (OverflowError, ValueError):
        raise ValidationError("Out of range.") from None


class UserQuerySchema(PageArgsSchema):
    """GET /admin/users: a page, and `q` to search emails and display names."""

    q = Text(validate=validate.Length(max=320))


class AdminUserSchema(UserSchema):
    """A user as an administrator sees it."""

    disabled = fields.Boolean()


class UserPatchSchema(StrictSchema):
    """PATCH /admin/users/{id}."""

    display_name = Text(validate=validate.Length(min=1, max=100), allow_none=True)
    disabled = fields.Boolean()
    email_verified = fields.Boolean()


class UserRolesSchema(StrictSchema):
    """PUT /admin/users/{id}/roles."""

    roles = fields.List(Text(validate=validate.Length(min=1, max=64)), required=True,
                        validate=validate.Length(max=100))


class RoleSchema(Schema):
    """A role and the permissions it grants."""

    name = fields.String()
    permissions = fields.List(fields.String())
    builtin = fields.Boolean()
    created_at = fields.DateTime()


class RoleCreateSchema(StrictSchema):
    """POST /admin/roles (names and permissions are checked by roles.py, for the CLI too)."""

    name = Text(required=True, validate=validate.Length(min=1, max=64))
    permissions = fields.List(Text(validate=validate.Length(min=1, max=65)), load_default=list,
                              validate=validate.Length(max=100))


class RolePatchSchema(StrictSchema):
    """PATCH /admin/roles/{name}: a new name, new permissions, or both."""

    name = Text(validate=validate.Length(min=1, max=64))
    permissions = fields.List(Text(validate=validate.Length(min=1, max=65)),
                              validate=validate.Length(max=100))


class AuditQuerySchema(PageArgsSchema):
    """GET /admin/audit: by user, event and time range [since, until)."""

    user_id = Text(validate=validate.Length(max=36))
    event = Text(validate=validate.Length(max=64))
    since = fields.AwareDateTime(validate=utc_convertible)
    until = fields.AwareDateTime(validate=utc_convertible)


class AuditEventSchema(Schema):
    """One audit event: what happened, to whom, by whom, from where."""

    id = fields.Integer()
    at = fields.DateTime()
    event = fields.String()
    user_id = fields.String(allow_none=True)
    client_id = fields.String(allow_none=True)
    ip = fields.String(allow_none=True)
    user_agent = fields.String(allow_none=True)
    detail = fields.Dict()


AdminUserPageSchema = page_of(AdminUserSchema, "AdminUserPage")
RolePageSchema = page_of(RoleSchema, "RolePage")
AuditPageSchema = page_of(AuditEventSchema, "AuditPage")
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


# --- service clients (/admin/clients) ---


class ClientCreateSchema(StrictSchema):
    """POST /admin/clients: `scope` is space-separated, as on the command line."""

    name = Text(required=True, validate=validate.Length(min=1, max=100))
    scope = Text(load_default="", validate=validate.Length(max=4096))
    exchange = fields.Boolean(load_default=False)
    jwks = fields.Dict(keys=fields.String(), load_default=None, allow_none=True)
    jwks_url = fields.Url(load_default=None, allow_none=True, require_tld=False,
                          schemes={"http", "https"},
                          validate=[storable, validate.Length(max=2048)])


class ClientSchema(Schema):
    """A service client; `client_secret` only in the answer that creates or rotates it."""

    id = fields.String()
    client_id = fields.String()
    client_secret = fields.String(allow_none=True)
    name = fields.String()
    scope = fields.String()
    exchange = fields.Boolean()
    disabled = fields.Boolean()
    token_endpoint_auth_method = fields.String()
    created_at = fields.DateTime()


class ClientPageSchema(Schema):
    """A page of clients."""

    items = fields.List(fields.Nested(ClientSchema))
    page = fields.Integer()
    per_page = fields.Integer()
    total = fields.Integer()


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
