"""Email addresses: verification by a mailed link, and a change confirmed by the new address."""

from __future__ import annotations

from flask import current_app
from sqlalchemy.exc import IntegrityError

from authapi import audit, db
from authapi.accounts import links, notices, passwords
from authapi.accounts.users import by_email, get, normalize_email
from authapi.errors import (
    EmailTaken,
    EmailUnverified,
    InvalidCredentials,
    LinkInvalid,
    RateLimited,
    ValidationError,
)
from authapi.mail import outbox
from authapi.models import User


def _hours(purpose: str) -> int:
    return max(1, links.ttl(purpose) // 3600)


def send_verification(user: User) -> None:
    """Mail a verification link to the user's address, unless verified or throttled."""
    if user.email_verified or links.throttled(user.id, links.VERIFY_EMAIL):
        return
    link = links.issue(user.id, links.VERIFY_EMAIL, user.email)
    outbox.queue(user.email, "verify_email", email=user.email, link=link,
                 hours=_hours(links.VERIFY_EMAIL))
    audit.record("email_verification_sent", user_id=user.id)


def require_verified(user: User, **detail: str) -> None:
    """With AUTHAPI_REQUIRE_VERIFIED_EMAIL, a sign-in of an account whose address is not
    verified is refused (403 `email_unverified`) whatever proved it, and a fresh link
    is mailed: the credentials were right. `detail` goes into the `login_failed` row."""
    if current_app.config["AUTHAPI_REQUIRE_VERIFIED_EMAIL"] and not user.email_verified:
        audit.record("login_failed", user_id=user.id,
                     detail={"reason": "email_unverified", **detail})
        send_verification(user)
        raise EmailUnverified()


def request_verification(user_id: str) -> None:
    """POST /auth/verify-email: (re)send the caller's verification link."""
    send_verification(get(user_id))


def confirm_verification(token: str) -> None:
    """Mark the address a verification link was sent to as verified (once)."""
    row = links.consume(token, links.VERIFY_EMAIL)
    user = get(row.user_id)
    if row.email != user.email:  # sent to an address the account no longer has
        raise LinkInvalid()
    user.email_verified = True
    audit.record("email_verified", user_id=user.id)


def request_change(user_id: str, new_email: str, password: str) -> None:
    """Mail a confirmation link to the new address and a notice to the old one.

    The account keeps its old address until the link is opened.
    """
    user = get(user_id)
    ok, _ = passwords.verify(password, user.password_hash)
    if not ok:
        raise InvalidCredentials("The password is wrong.")
    email = normalize_email(new_email)
    if email == user.email:
        raise ValidationError(errors={"new_email": ["This is already the account's address."]})
    if by_email(email) is not None:
        raise EmailTaken()
    if links.throttled(user.id, links.CHANGE_EMAIL):
        raise RateLimited("Too many changes of address asked for; retry in an hour.",
                          headers={"Retry-After": "3600"})
    link = links.issue(user.id, links.CHANGE_EMAIL, email)
    outbox.queue(email, "email_change", email=email, old_email=user.email, link=link,
                 hours=_hours(links.CHANGE_EMAIL))
    notices.email_change(user.email, email, done=False)
    audit.record("email_change_requested", user_id=user.id)


def confirm_change(token: str) -> None:
    """Switch the account to the address the link was sent to; it counts as verified."""
    row = links.consume(token, links.CHANGE_EMAIL)
    user = get(row.user_id)
    if by_email(row.email) is not None:
        raise EmailTaken()
    old_email, user.email, user.email_verified = user.email, row.email, True
    try:
        db.orm().flush()
    except IntegrityError:  # taken by a concurrent registration
        db.orm().rollback()
        raise EmailTaken() from None
    notices.email_change(old_email, row.email, done=True)
    audit.record("email_changed", user_id=user.id)
