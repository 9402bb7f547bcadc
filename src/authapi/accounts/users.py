"""User look-ups: by email, by id, and the profile read on the per-request path."""

from __future__ import annotations

import unicodedata
from typing import Any

from sqlalchemy import bindparam, select

from authapi import db
from authapi.errors import NotFound
from authapi.models import Role, User, role_scope, user_roles

PROFILE = db.Read(
    select(User.id, User.email, User.display_name, User.email_verified, User.mfa_enabled,
           User.created_at, User.disabled, Role.name, Role.permissions)
    .select_from(User)
    .outerjoin(user_roles, user_roles.c.user_id == User.id)
    .outerjoin(Role, Role.id == user_roles.c.role_id)
    .where(User.id == bindparam("user_id"))
)


def normalize_email(email: str) -> str:
    """The one form an email is stored and compared in: NFKC, then case-folded."""
    return unicodedata.normalize("NFKC", email).strip().casefold()


def by_email(email: str) -> User | None:
    """The user with this email, in any letter case or compatibility form."""
    return db.orm().scalar(select(User).where(User.email == normalize_email(email)))


def get(user_id: str) -> User:
    """The user with this id, or NotFound."""
    user = db.orm().get(User, user_id)
    if user is None:
        raise NotFound("No such user.")
    return user


def profile(user_id: str) -> dict[str, Any]:
    """A user as the API shows it, with roles and scope as the database says now.

    One read outside the request's transaction (db.Read), no ORM objects: this runs
    on /auth/me and on every refresh.
    """
    rows = PROFILE.rows({"user_id": user_id})
    if not rows:
        raise NotFound("No such user.")
    return profile_of(rows)


def profile_of(rows: list[tuple[Any, ...]]) -> dict[str, Any]:
    """The profile from PROFILE's rows (one per role held; at least one)."""
    user_id, email, display_name, verified, mfa, created_at, disabled = rows[0][:7]
    granted = [(row[7], row[8]) for row in rows if row[7] is not None]
    scope = {p for name, permissions in granted for p in role_scope(name, permissions)}
    return {"id": user_id, "email": email, "display_name": display_name,
            "email_verified": bool(verified), "mfa_enabled": bool(mfa),
            "created_at": created_at, "disabled": bool(disabled),
            "roles": sorted({name for name, _ in granted}), "scope": " ".join(sorted(scope))}
