"""Administration of users (list, show, change, delete, roles) and reading the audit log.

The last active admin is kept: no request, theirs included, may disable, delete or
un-admin them (409 `conflict`). Those checks run under a lock on the `admin` role's
row, so two admins demoting each other at once cannot both succeed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, or_, select, update

from authapi import audit, db
from authapi.accounts import accounts, users
from authapi.admin import delegation
from authapi.admin.delegation import Grantor
from authapi.errors import Conflict, NotFound, ValidationError
from authapi.models import ADMIN_ROLE, AuditEvent, Role, User, user_roles
from authapi.sessions import sessions


def view(user: User) -> dict[str, Any]:
    """A user as an administrator sees it: the profile plus `disabled`."""
    return {"id": user.id, "email": user.email, "display_name": user.display_name,
            "roles": user.role_names(), "scope": user.scope(),
            "email_verified": user.email_verified, "mfa_enabled": user.mfa_enabled,
            "created_at": user.created_at, "disabled": user.disabled}


def find(user_id: str) -> User:
    """The user with this id, or NotFound (also for anything that is not one of our ids)."""
    if not sessions.is_uuid(user_id):
        raise NotFound("No such user.")
    return users.get(user_id)


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def list_page(q: str | None, page: int, per_page: int) -> tuple[list[dict[str, Any]], int]:
    """One page of users, oldest first, matching `q` in the email or the display name."""
    where = []
    if q:
        pattern = _like(q.strip())
        where.append(or_(User.email.ilike(_like(users.normalize_email(q)), escape="\\"),
                         User.display_name.ilike(pattern, escape="\\")))
    total = db.orm().scalar(select(func.count()).select_from(User).where(*where)) or 0
    rows = db.orm().scalars(select(User).where(*where).order_by(User.created_at, User.id)
                            .limit(per_page).offset((page - 1) * per_page))
    return [view(user) for user in rows], total


def _is_active_admin(user: User) -> bool:
    return not user.disabled and ADMIN_ROLE in user.role_names()


def keep_an_admin(user: User) -> None:
    """Conflict if `user` is the last active admin; else hold the lock until commit."""
    if not _is_active_admin(user):
        return
    # A write to the admin role's row: a row lock on PostgreSQL, the write lock on
    # SQLite. Whoever else is demoting an admin waits here, then counts afresh.
    db.affected(update(Role).where(Role.name == ADMIN_ROLE).values(name=Role.name))
    others = db.orm().scalar(
        select(func.count()).select_from(User)
        .join(user_roles, user_roles.c.user_id == User.id)
        .join(Role, Role.id == user_roles.c.role_id)
        .where(Role.name == ADMIN_ROLE, User.disabled.is_(False), User.id != user.id))
    if not others:
        raise Conflict("This is the last active admin; make another admin first.")


def update_user(user_id: str, changes: dict[str, Any], actor_id: str | None = None) -> User:
    """Change display name, verified flag or disabled flag; disabling revokes every token."""
    user = find(user_id)
    disable = changes.get("disabled")
    if disable is True and not user.disabled:
        keep_an_admin(user)
    edited = sorted(k for k in ("display_name", "email_verified")
                    if k in changes and changes[k] != getattr(user, k))
    for name in edited:
        setattr(user, name, changes[name])
    if edited:
        audit.record("user_updated", user_id=user.id,
                     detail={"actor_id": actor_id, "fields": edited})
    if disable is not None and disable != user.disabled:
        user.disabled = disable
        if disable:
            count = sessions.revoke_all(user.id, "user_disabled")
            audit.record("user_disabled", user_id=user.id,
                         detail={"actor_id": actor_id, "sessions": count})
        else:
            audit.record("user_enabled", user_id=user.id, detail={"actor_id": actor_id})
    db.orm().flush()
    return user


def delete_user(user_id: str, actor_id: str | None = None) -> None:
    """Delete a user; every session is revoked first, so every token dies at once."""
    user = find(user_id)
    keep_an_admin(user)
    count = sessions.revoke_all(user.id, "user_deleted")
    db.affected(delete(User).where(User.id == user.id))  # roles and sessions cascade
    db.orm().expunge(user)
    audit.record("user_deleted", user_id=user_id, detail={"actor_id": actor_id, "sessions": count})


def set_user_roles(user_id: str, roles: list[str], actor_id: str | None = None,
                   grantor: Grantor | None = None) -> User:
    """Replace a user's roles (every name must exist); the last admin keeps `admin`.

    Over HTTP (`grantor`), every role given or taken must be the caller's to give.
    """
    user = find(user_id)
    wanted = tuple(sorted(set(roles)))
    known = {role.name: role for role in db.orm().scalars(select(Role).where(
        Role.name.in_(wanted)))}
    missing = [name for name in wanted if name not in known]
    if missing:
        raise ValidationError(errors={"roles": [f"No such role: {name}." for name in missing[:10]]})
    current = {role.name: role for role in user.roles}
    for name in sorted(set(wanted) ^ set(current)):  # given or taken
        delegation.check_role(grantor, known.get(name) or current[name])
    # A PUT that gives and takes nothing still counts as a role change (tokens issued
    # before it answer token_revoked): callers and the soak harness rely on a PUT
    # taking effect, and a needless re-login costs one refresh.
    if ADMIN_ROLE not in wanted:
        keep_an_admin(user)
    return accounts.set_roles(user.id, wanted, actor_id=actor_id)


def audit_page(filters: dict[str, Any], page: int,
               per_page: int) -> tuple[list[dict[str, Any]], int]:
    """One page of audit events, newest first, by user, event and time range [since, until)."""
    where = []
    if filters.get("user_id") is not None:
        where.append(AuditEvent.user_id == filters["user_id"])
    if filters.get("event") is not None:
        where.append(AuditEvent.event == filters["event"])
    since: datetime | None = filters.get("since")
    until: datetime | None = filters.get("until")
    if since is not None:
        where.append(AuditEvent.at >= since)
    if until is not None:
        where.append(AuditEvent.at < until)
    total = db.orm().scalar(select(func.count()).select_from(AuditEvent).where(*where)) or 0
    rows = db.orm().scalars(select(AuditEvent).where(*where)
                            .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
                            .limit(per_page).offset((page - 1) * per_page))
    items = [{"id": row.id, "at": row.at, "event": row.event, "user_id": row.user_id,
              "client_id": row.client_id, "ip": row.ip, "user_agent": row.user_agent,
              "detail": row.detail} for row in rows]
    return items, total
