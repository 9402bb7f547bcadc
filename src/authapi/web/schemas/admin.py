"""/admin: users, roles, audit events, clients."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from authapi.web.schemas.auth import UserSchema
from authapi.web.schemas.base import (
    PageArgsSchema,
    StrictSchema,
    Text,
    page_of,
    storable,
    utc_convertible,
)


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
    # Beyond the contract's table, for parity with `authapi clients create --audience`.
    audiences = fields.List(Text(validate=validate.Length(min=1, max=255)), load_default=None,
                            allow_none=True, validate=validate.Length(max=20))
    # An app that signs users in ("Apps that sign users in"); checked by oauth/registration.
    redirect_uris = fields.List(Text(), load_default=None, validate=validate.Length(max=20))
    post_logout_redirect_uris = fields.List(Text(), load_default=None,
                                            validate=validate.Length(max=20))
    grant_types = fields.List(Text(), load_default=None, validate=validate.Length(min=1, max=5))
    token_endpoint_auth_method = Text(load_default=None)
    first_party = fields.Boolean(load_default=None)
    resources = fields.List(Text(), load_default=None, validate=validate.Length(max=20))
    require_par = fields.Boolean(load_default=None)
    require_dpop = fields.Boolean(load_default=None)


class ClientPatchSchema(StrictSchema):
    """PATCH /admin/clients/{id}: what is sent changes; the auth method and keys stay."""

    name = Text(validate=validate.Length(min=1, max=100))
    scope = Text(validate=validate.Length(max=4096))
    disabled = fields.Boolean()
    redirect_uris = fields.List(Text(), validate=validate.Length(max=20))
    post_logout_redirect_uris = fields.List(Text(), validate=validate.Length(max=20))
    grant_types = fields.List(Text(), validate=validate.Length(min=1, max=5))
    first_party = fields.Boolean()
    resources = fields.List(Text(), validate=validate.Length(max=20))
    require_par = fields.Boolean()
    require_dpop = fields.Boolean()


class ClientSchema(Schema):
    """A service client; `client_secret` only in the answer that creates or rotates it."""

    id = fields.String()
    client_id = fields.String()
    client_secret = fields.String(allow_none=True)
    name = fields.String()
    scope = fields.String()
    exchange = fields.Boolean()
    audiences = fields.List(fields.String())
    disabled = fields.Boolean()
    token_endpoint_auth_method = fields.String()
    redirect_uris = fields.List(fields.String())
    post_logout_redirect_uris = fields.List(fields.String())
    grant_types = fields.List(fields.String())
    first_party = fields.Boolean()
    resources = fields.List(fields.String())
    require_par = fields.Boolean()
    require_dpop = fields.Boolean()
    created_at = fields.DateTime()


class ClientPageSchema(Schema):
    """A page of clients."""

    items = fields.List(fields.Nested(ClientSchema))
    page = fields.Integer()
    per_page = fields.Integer()
    total = fields.Integer()
