"""/oauth/requests: the headless login and consent API of the OpenID provider."""

from __future__ import annotations

from marshmallow import EXCLUDE, Schema, fields, validate

from authapi.web.schemas.base import StrictSchema, Text, normalized_length, page_of


class RequestLoginSchema(StrictSchema):
    """POST /oauth/requests/{id}/login."""

    email = Text(required=True, validate=[validate.Length(min=1, max=320), normalized_length])
    password = Text(required=True)
    otp = Text(validate=validate.Length(min=1, max=64))


class RequestPasskeySchema(StrictSchema):
    """POST /oauth/requests/{id}/passkey: an assertion to /auth/passkeys/login/options."""

    challenge_id = Text(required=True, validate=validate.Length(max=64))
    credential = fields.Dict(required=True)


class ConsentSchema(StrictSchema):
    """POST /oauth/requests/{id}/consent."""

    approve = fields.Boolean(required=True)
    scopes = fields.List(Text(validate=validate.Length(min=1, max=128)),
                         validate=validate.Length(max=100))


class RedirectSchema(Schema):
    """Where the browser goes next."""

    redirect_to = fields.String(required=True)


class RequestClientSchema(Schema):
    client_id = fields.String()
    name = fields.String()
    first_party = fields.Boolean()


class AuthorizationRequestSchema(Schema):
    """A pending authorization request, for a login page."""

    id = fields.String()
    client = fields.Nested(RequestClientSchema)
    scopes = fields.List(fields.String())
    resources = fields.List(fields.String())
    login_hint = fields.String(allow_none=True)
    needs = fields.String(metadata={"enum": ["login", "mfa", "consent", "none"]})


class ConsentGrantSchema(Schema):
    """An app a user let in."""

    client_id = fields.String()
    name = fields.String()
    scopes = fields.List(fields.String())
    granted_at = fields.DateTime()


# A page of the apps a user let in.
ConsentPageSchema = page_of(ConsentGrantSchema, "ConsentPage")


class UserInfoSchema(Schema):
    """OpenID Connect Core §5.3: the user, by the token's scopes."""

    sub = fields.String(required=True)
    email = fields.String()
    email_verified = fields.Boolean()
    name = fields.String()


class ClientMetadataSchema(Schema):
    """RFC 7591 §2 client metadata; members authapi does not use are ignored (§2)."""

    class Meta:
        unknown = EXCLUDE

    redirect_uris = fields.List(Text(), required=True, validate=validate.Length(min=1, max=20))
    post_logout_redirect_uris = fields.List(Text(), validate=validate.Length(max=20))
    client_name = Text(validate=validate.Length(min=1, max=100))
    grant_types = fields.List(Text(), validate=validate.Length(min=1, max=5))
    response_types = fields.List(Text(), validate=validate.Length(min=1, max=5))
    token_endpoint_auth_method = Text(validate=validate.Length(max=32))


class UserCodeSchema(StrictSchema):
    """POST /oauth/device/verify."""

    user_code = Text(required=True, validate=validate.Length(min=1, max=32))


class DeviceAnswerSchema(StrictSchema):
    """POST /oauth/device/approve."""

    user_code = Text(required=True, validate=validate.Length(min=1, max=32))
    approve = fields.Boolean(required=True)


class DeviceRequestSchema(Schema):
    """What a device asks for, for the page where the user approves it."""

    client = fields.Nested(RequestClientSchema)
    scopes = fields.List(fields.String())
