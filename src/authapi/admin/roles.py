"""Roles and their permissions: list, create, change, delete.

A change to what a role grants (its permissions, its name, or the role itself) voids
the access tokens of every holder at once (sessions.void_role_holders); their
sessions live on and the next refresh carries the new roles and scope.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from authapi import audit, db
from authapi.admin import delegation
from authapi.admin.delegation import Grantor
from authapi.errors import Conflict, NotFound, ValidationError
from authapi.models import ADMIN_ROLE, DEFAULT_ROLE, Role
from authapi.sessions import sessions

BUILTIN = (ADMIN_ROLE, DEFAULT_ROLE)
# Role names travel in tokens and in the comma-separated X-Auth-Roles header.
NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")
# Permissions are `resource:action` (RFC 6749 §3.3 scope tokens, no spaces).
PERMISSION = re.compile(r"[a-z][a-z0-9_.-]{0,31}:[a-z][a-z0-9_.-]{0,31}")
MAX_PERMISSIONS = 100


def valid_name(name: str) -> bool:
    """Whether a string can be a role's name."""
    return NAME.fullmatch(name) is not None


def check_name(name: str) -> str:
    """The name, or a 422 naming the field."""
    if not valid_name(name):
        raise ValidationError(errors={"name": [
            "Lower-case letters, digits, '_', '.' and '-', at most 64, starting alnum."]})
    return name


def check_permissions(permissions: list[str]) -> list[str]:
    """The permissions, de-duplicated and sorted, or a 422 naming the bad ones."""
    bad = sorted({p for p in permissions if PERMISSION.fullmatch(p) is None})
    if bad:
        raise ValidationError(errors={"permissions": [
            f"Not a `resource:action` permission name: {p!r}." for p in bad[:10]]})
    unique = sorted(set(permissions))
    if len(unique) > MAX_PERMISSIONS:
        raise ValidationError(errors={"permissions": [f"At most {MAX_PERMISSIONS}."]})
    return unique


def view(role: Role) -> dict[str, Any]:
    """A role as the API shows it; `admin` lists every permission it grants."""
    return {"name": role.name, "permissions": role.scope(), "builtin": role.name in BUILTIN,
            "created_at": role.created_at}


def get(name: str) -> Role:
    """The role with this name, or NotFound."""
    role = db.orm().scalar(select(Role).where(Role.name == name)) if valid_name(name) else None
    if role is None:
        raise NotFound("No such role.")
    return role


def list_page(page: int, per_page: int) -> tuple[list[dict[str, Any]], int]:
    """One page of roles by name, and their total."""
    total = db.orm().scalar(select(func.count()).select_from(Role)) or 0
    rows = db.orm().scalars(select(Role).order_by(Role.name)
                            .limit(per_page).offset((page - 1) * per_page))
    return [view(role) for role in rows], total


def _flush_unique() -> None:
    try:
        db.orm().flush()
    except IntegrityError:  # a concurrent create or rename won the unique constraint
        db.orm().rollback()
        raise Conflict("A role with this name already exists.") from None


def _taken(name: str) -> bool:
    return db.orm().scalar(select(Role.id).where(Role.name == name)) is not None


def create(name: str, permissions: list[str], actor_id: str | None = None,
           grantor: Grantor | None = None) -> Role:
    """Create a role; Conflict if the name is taken; over HTTP only with permissions held."""
    check_name(name)
    granted = check_permissions(permissions)
    delegation.check_permissions(grantor, granted, "permissions")
    if _taken(name):
        raise Conflict("A role with this name already exists.")
    role = Role(name=name, permissions=granted)
    db.orm().add(role)
    _flush_unique()
    audit.record("role_created", user_id=actor_id,
                 detail={"actor_id": actor_id, "role": name, "permissions": granted})
    return role


def update(name: str, *, new_name: str | None = None, permissions: list[str] | None = None,
           actor_id: str | None = None, grantor: Grantor | None = None) -> Role:
    """Rename a role or replace its permissions; every holder's access tokens are voided.

    Over HTTP (`grantor`), a permission is added only by a caller who holds it, and a
    role is renamed only by a caller who could give or take it (as for deleting it): a
    rename takes the name, which `roles_required` and `/auth/check?role=` trust, from every
    holder, and frees it for another role.
    """
    role = get(name)
    before = (role.name, sorted(role.permissions or []))
    renamed = new_name is not None and new_name != role.name
    if role.name == ADMIN_ROLE and (renamed or permissions is not None):
        raise Conflict("The built-in admin role holds every permission and keeps its name.")
    if renamed and role.name in BUILTIN:
        raise Conflict("Built-in roles keep their names.")
    if renamed:
        delegation.check_role(grantor, role)
    if renamed and new_name is not None:
        check_name(new_name)
        if _taken(new_name):
            raise Conflict("A role with this name already exists.")
        role.name = new_name
    if permissions is not None:
        wanted = check_permissions(permissions)
        delegation.check_permissions(grantor, set(wanted) - set(before[1]), "permissions")
        role.permissions = wanted
    if (role.name, role.permissions) == before:
        return role  # nothing changed: no token needs to die
    _flush_unique()
    holders = sessions.void_role_holders(role.id)
    audit.record("role_updated", user_id=actor_id, detail={
        "actor_id": actor_id, "role": role.name, "previous_name": name,
        "permissions": role.scope(), "sessions_voided": holders})
    return role


def grant(name: str, permissions: list[str], actor_id: str | None = None) -> Role:
    """Add permissions to a role (the CLI's `roles grant`)."""
    role = get(name)
    return update(name, permissions=[*role.permissions, *permissions], actor_id=actor_id)


def remove(name: str, actor_id: str | None = None, grantor: Grantor | None = None) -> None:
    """Delete a custom role; its holders lose it and their access tokens are voided.

    Deleting takes the role from every holder: over HTTP, only a caller who could give it.
    """
    role = get(name)
    if role.name in BUILTIN:
        raise Conflict("Built-in roles cannot be deleted.")
    delegation.check_role(grantor, role)
    holders = sessions.void_role_holders(role.id)  # while user_roles still names them
    db.affected(delete(Role).where(Role.id == role.id))  # user_roles rows cascade
    audit.record("role_deleted", user_id=actor_id,
                 detail={"actor_id": actor_id, "role": name, "sessions_voided": holders})
