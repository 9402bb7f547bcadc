"""/admin: users, roles and permissions, and the audit log (read-only).

Each route names its permission with authz.permissions_required; the OpenAPI
document shows it in the route's description (views.SecurityDocs).
"""

from __future__ import annotations

from typing import Any

from authapi import authz, db
from authapi.admin import admin, roles
from authapi.views import Blueprint, grantor, paged
from authapi.web.schemas import (
    AdminUserPageSchema,
    AdminUserSchema,
    AuditPageSchema,
    AuditQuerySchema,
    PageArgsSchema,
    RoleCreateSchema,
    RolePageSchema,
    RolePatchSchema,
    RoleSchema,
    UserPatchSchema,
    UserQuerySchema,
    UserRolesSchema,
)

bp = Blueprint("admin", __name__, url_prefix="/admin",
               description="Administration: users, roles and permissions, the audit log.")


def _actor() -> str:
    return str(authz.current_claims()["sub"])


@bp.get("/users")
@authz.permissions_required("users:read")
@bp.arguments(UserQuerySchema, location="query")
@bp.response(200, AdminUserPageSchema)
def list_users(args: dict[str, Any]) -> Any:
    """List users, oldest first; `q` searches emails and display names."""
    return paged(args, lambda page, per_page: admin.list_page(args.get("q"), page, per_page))


@bp.get("/users/<string:user_id>")
@authz.permissions_required("users:read")
@bp.response(200, AdminUserSchema)
def get_user(user_id: str) -> Any:
    """One user, with roles, scope and whether the account is disabled."""
    return admin.view(admin.find(user_id))


@bp.patch("/users/<string:user_id>")
@authz.permissions_required("users:write")
@bp.arguments(UserPatchSchema)
@bp.response(200, AdminUserSchema)
def update_user(body: dict[str, Any], user_id: str) -> Any:
    """Change a user's display name, verified flag or disabled flag.

    Disabling revokes every token of the user at once. The last active admin
    cannot be disabled (409 `conflict`).
    """
    user = admin.update_user(user_id, body, actor_id=_actor())
    db.orm().commit()
    return admin.view(user)


@bp.delete("/users/<string:user_id>")
@authz.permissions_required("users:write")
@bp.response(204)
def delete_user(user_id: str) -> None:
    """Delete a user and revoke every token of theirs; never the last active admin."""
    admin.delete_user(user_id, actor_id=_actor())
    db.orm().commit()


@bp.put("/users/<string:user_id>/roles")
@authz.permissions_required("users:write")
@bp.arguments(UserRolesSchema)
@bp.response(200, AdminUserSchema)
def set_user_roles(body: dict[str, Any], user_id: str) -> Any:
    """Replace a user's roles.

    Access tokens issued before the change answer 401 `token_revoked`; the next
    refresh carries the new roles and scope. The last active admin keeps `admin`.
    """
    user = admin.set_user_roles(user_id, body["roles"], actor_id=_actor(), grantor=grantor())
    db.orm().commit()
    return admin.view(user)


@bp.get("/roles")
@authz.permissions_required("roles:read")
@bp.arguments(PageArgsSchema, location="query")
@bp.response(200, RolePageSchema)
def list_roles(args: dict[str, Any]) -> Any:
    """List roles by name, with the permissions each grants."""
    return paged(args, roles.list_page)


@bp.post("/roles")
@authz.permissions_required("roles:write")
@bp.arguments(RoleCreateSchema)
@bp.response(201, RoleSchema)
def create_role(body: dict[str, Any]) -> Any:
    """Create a role; permission names are `resource:action`."""
    role = roles.create(body["name"], body["permissions"], actor_id=_actor(), grantor=grantor())
    db.orm().commit()
    return roles.view(role)


@bp.patch("/roles/<string:name>")
@authz.permissions_required("roles:write")
@bp.arguments(RolePatchSchema)
@bp.response(200, RoleSchema)
def update_role(body: dict[str, Any], name: str) -> Any:
    """Rename a role or replace its permissions.

    Every holder's access tokens issued before the change answer 401
    `token_revoked`; the built-in `admin` holds every permission and cannot change.
    """
    role = roles.update(name, new_name=body.get("name"), permissions=body.get("permissions"),
                        actor_id=_actor(), grantor=grantor())
    db.orm().commit()
    return roles.view(role)


@bp.delete("/roles/<string:name>")
@authz.permissions_required("roles:write")
@bp.response(204)
def delete_role(name: str) -> None:
    """Delete a custom role (the built-in `admin` and `user` cannot be deleted)."""
    roles.remove(name, actor_id=_actor(), grantor=grantor())
    db.orm().commit()


@bp.get("/audit")
@authz.permissions_required("audit:read")
@bp.arguments(AuditQuerySchema, location="query")
@bp.response(200, AuditPageSchema)
def list_audit(args: dict[str, Any]) -> Any:
    """Audit events, newest first, by `user_id`, `event` and time range [`since`, `until`)."""
    return paged(args, lambda page, per_page: admin.audit_page(args, page, per_page))
