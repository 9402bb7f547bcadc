"""User accounts: register, authenticate, change password, look up."""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError

from . import audit, db, passwords, sessions
from .errors import AccountDisabled, EmailTaken, InvalidCredentials, NotFound
from .models import ADMIN_ROLE, DEFAULT_ROLE, PERMISSIONS, Role, User, user_roles


def normalize_email(email: str) -> str:
    """Emails compare case-insensitively: store and look them up lower-cased."""
    return email.strip().lower()


def by_email(email: str) -> User | None:
    """The user with this email, in any letter case."""
    return db.session().scalar(select(User).where(User.email == normalize_email(email)))


PROFILE_QUERY = (
    select(User.id, User.email, User.display_name, User.email_verified, User.mfa_enabled,
           User.created_at, User.disabled, Role.name, Role.permissions)
    .outerjoin(user_roles, user_roles.c.user_id == User.id)
    .outerjoin(Role, Role.id == user_roles.c.role_id)
    .where(User.id == bindparam("user_id"))
)


def describe(user_id: str) -> dict[str, Any]:
    """A user as the API shows it: one Core query, no ORM session or objects."""
    rows = db.read(PROFILE_QUERY, {"user_id": user_id})
    if not rows:
        raise NotFound("No such user.")
    first = rows[0]
    roles = sorted({row.name for row in rows if row.name is not None})
    scope = {p for row in rows if row.name is not None
             for p in (PERMISSIONS if row.name == ADMIN_ROLE else row.permissions or ())}
    return {"id": first.id, "email": first.email, "display_name": first.display_name,
            "email_verified": first.email_verified, "mfa_enabled": first.mfa_enabled,
            "created_at": first.created_at, "disabled": first.disabled, "roles": roles,
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
