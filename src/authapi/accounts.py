"""User accounts: register, authenticate, change password, look up."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from . import audit, db, passwords, sessions
from .errors import AccountDisabled, EmailTaken, InvalidCredentials, NotFound
from .models import ADMIN_ROLE, DEFAULT_ROLE, PERMISSIONS, Role, User


def normalize_email(email: str) -> str:
    """Emails compare case-insensitively: store and look them up lower-cased."""
    return email.strip().lower()


def by_email(email: str) -> User | None:
    """The user with this email, in any letter case."""
    return db.session().scalar(select(User).where(User.email == normalize_email(email)))


PROFILE_SQL = (
    "SELECT u.id, u.email, u.display_name, u.email_verified, u.mfa_enabled, u.created_at,"
    " u.disabled, r.name, r.permissions FROM users u"
    " LEFT JOIN user_roles ur ON ur.user_id = u.id LEFT JOIN roles r ON r.id = ur.role_id"
    " WHERE u.id = :user_id"
)


def _timestamp(value: datetime | str) -> datetime:
    # PostgreSQL's driver gives a naive datetime, SQLite's an ISO string; both are UTC.
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.replace(tzinfo=UTC)


def _permissions(value: list[str] | str | None) -> list[str]:
    return list(json.loads(value) if isinstance(value, str) else value or [])


def describe(user_id: str) -> dict[str, Any]:
    """A user as the API shows it: one raw read on the per-request path, no ORM."""
    rows = db.read_raw(PROFILE_SQL, {"user_id": user_id})
    if not rows:
        raise NotFound("No such user.")
    user_id, email, display_name, verified, mfa, created_at, disabled = rows[0][:7]
    roles = sorted({row[7] for row in rows if row[7] is not None})
    scope = {p for row in rows if row[7] is not None
             for p in (PERMISSIONS if row[7] == ADMIN_ROLE else _permissions(row[8]))}
    return {"id": user_id, "email": email, "display_name": display_name,
            "email_verified": bool(verified), "mfa_enabled": bool(mfa),
            "created_at": _timestamp(created_at), "disabled": bool(disabled), "roles": roles,
            "scope": " ".join(sorted(scope))}


def get(user_id: str) -> User:
    """The user with this id, or NotFound."""
    user = db.session().get(User, user_id)
    if user is None:
        raise NotFound("No such user.")
    return user


def create(email: str, password: str, display_name: str | None = None,
           roles: tuple[str, ...] = (DEFAULT_ROLE,)) -> User:
    """Create a user with the given roles; EmailTaken if the email is in use."""
    passwords.check_policy(password)
    if by_email(email) is not None:
        raise EmailTaken()
    role_rows = list(db.session().scalars(select(Role).where(Role.name.in_(roles))))
    missing = set(roles) - {role.name for role in role_rows}
    if missing:
        raise NotFound(f"No such role: {', '.join(sorted(missing))}.")
    user = User(email=normalize_email(email), password_hash=passwords.hash_password(password),
                display_name=display_name, roles=role_rows)
    db.session().add(user)
    try:
        db.session().flush()
    except IntegrityError:  # a concurrent registration won the unique constraint
        db.session().rollback()
        raise EmailTaken() from None
    return user


def register(email: str, password: str, display_name: str | None = None) -> User:
    """Self-service sign-up: the `user` role, nothing more."""
    user = create(email, password, display_name)
    audit.record("register", user_id=user.id)
    return user


def authenticate(email: str, password: str) -> User:
    """The user whose credentials these are; the same error, in the same time, otherwise."""
    user = by_email(email)
    if user is None:
        passwords.verify_dummy(password)
        audit.record("login_failed", detail={"reason": "unknown_email"})
        raise InvalidCredentials()
    ok, new_hash = passwords.verify(password, user.password_hash)
    if not ok:
        audit.record("login_failed", user_id=user.id, detail={"reason": "wrong_password"})
        raise InvalidCredentials()
    if user.disabled:
        audit.record("login_failed", user_id=user.id, detail={"reason": "disabled"})
        raise AccountDisabled()
    if new_hash:
        user.password_hash = new_hash  # an old scheme or cost, upgraded transparently
    return user


def change_password(user_id: str, current: str, new: str, keep_session: str | None) -> None:
    """Change a password after checking the current one; revoke every other session."""
    user = get(user_id)
    ok, _ = passwords.verify(current, user.password_hash)
    if not ok:
        raise InvalidCredentials("The current password is wrong.")
    passwords.check_policy(new)
    user.password_hash = passwords.hash_password(new)
    sessions.revoke_all(user.id, "password_changed", keep=keep_session)
    audit.record("password_changed", user_id=user.id)
