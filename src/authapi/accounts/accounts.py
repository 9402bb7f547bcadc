"""User accounts: create, register, authenticate, change password."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from authapi import audit, db
from authapi.accounts import addresses, links, mfa, notices, passwords
from authapi.accounts.users import by_email, get, normalize_email
from authapi.errors import (
    AccountDisabled,
    EmailTaken,
    InvalidCredentials,
    NotFound,
)
from authapi.models import DEFAULT_ROLE, Role, User
from authapi.sessions import sessions
from authapi.tokens.tokens import SignIn

PASSWORD = "pwd"  # noqa: S105  (the RFC 8176 method name, not a secret)


def _roles(names: tuple[str, ...]) -> list[Role]:
    rows = list(db.orm().scalars(select(Role).where(Role.name.in_(names))))
    missing = set(names) - {role.name for role in rows}
    if missing:
        raise NotFound(f"No such role: {', '.join(sorted(missing))}.")
    return rows


def create(email: str, password: str, display_name: str | None = None,
           roles: tuple[str, ...] = (DEFAULT_ROLE,)) -> User:
    """Create a user with the given roles; EmailTaken if the email is in use."""
    passwords.check_policy(password)
    if by_email(email) is not None:
        raise EmailTaken()
    role_rows = _roles(roles)
    user = User(email=normalize_email(email), password_hash=passwords.hash_password(password),
                display_name=display_name, roles=role_rows)
    db.orm().add(user)
    try:
        db.orm().flush()
    except IntegrityError:  # a concurrent registration won the unique constraint
        db.orm().rollback()
        raise EmailTaken() from None
    return user


def register(email: str, password: str, display_name: str | None = None) -> User:
    """Self-service sign-up: the `user` role, nothing more."""
    user = create(email, password, display_name)
    audit.record("register", user_id=user.id)
    addresses.send_verification(user)
    return user


def authenticate(email: str, password: str, otp: str | None = None) -> tuple[User, SignIn]:
    """The user whose credentials (and second factor) these are, and how they proved it;
    one error otherwise."""
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
    addresses.require_verified(user)
    second = mfa.check_login(user, otp)
    if new_hash:
        user.password_hash = new_hash  # an old scheme or cost, upgraded transparently
    return user, SignIn.now((PASSWORD, *second))


def reauthenticate(user_id: str, password: str, otp: str | None = None) -> SignIn:
    """The signed-in user proves who they are again: the password, and with MFA on the
    second factor too (as a login would ask); the sign-in this makes."""
    user = get(user_id)
    ok, _ = passwords.verify(password, user.password_hash)
    if not ok:
        audit.record("login_failed", user_id=user.id,
                     detail={"reason": "wrong_password", "method": "reauthenticate"})
        raise InvalidCredentials("The password is wrong.")
    if user.disabled:
        raise AccountDisabled()
    return SignIn.now((PASSWORD, *mfa.check_login(user, otp)))


def change_password(user_id: str, current: str, new: str, keep_session: str | None) -> None:
    """Change a password after checking the current one; revoke every other session and
    tell the owner."""
    user = get(user_id)
    ok, _ = passwords.verify(current, user.password_hash)
    if not ok:
        raise InvalidCredentials("The current password is wrong.")
    passwords.check_policy(new)
    user.password_hash = passwords.hash_password(new)
    sessions.revoke_all(user.id, "password_changed", keep=keep_session)
    links.void(user.id, links.CHANGE_EMAIL)  # as the sessions: it may be another's doing
    notices.account_changed(user, notices.PASSWORD_CHANGED)
    audit.record("password_changed", user_id=user.id)


def set_roles(user_id: str, roles: tuple[str, ...], actor_id: str | None = None) -> User:
    """Replace a user's roles; access tokens issued before the change stop working."""
    user = get(user_id)
    user.roles = _roles(roles)
    sessions.void_access_tokens(user.id)
    detail: dict[str, object] = {"roles": sorted(roles)}
    if actor_id is not None:
        detail["actor_id"] = actor_id
    audit.record("roles_changed", user_id=user.id, detail=detail)
    return user
