"""Password reset by a mailed link: a 202 for any email, a single-use token for 1 h."""

from __future__ import annotations

from . import audit, links, outbox, passwords, sessions
from .errors import LinkInvalid
from .users import by_email, get


def request_reset(email: str) -> None:
    """Mail a reset link if the account exists; the caller answers the same either way.

    The mail goes through the outbox, so neither path waits on SMTP.
    """
    user = by_email(email)
    if user is None or user.disabled:
        audit.record("password_reset_requested", detail={"sent": False})
        return
    link = links.issue(user.id, links.PASSWORD_RESET, user.email)
    outbox.queue(user.email, "password_reset", email=user.email, link=link,
                 hours=links.ttl(links.PASSWORD_RESET) // 3600 or 1)
    audit.record("password_reset_requested", user_id=user.id, detail={"sent": True})


def confirm_reset(token: str, new_password: str) -> None:
    """Set a new password from a reset link (once); every session of the user is revoked."""
    passwords.check_policy(new_password)  # before the token is spent: a retry keeps it
    row = links.consume(token, links.PASSWORD_RESET)
    user = get(row.user_id)
    if row.email != user.email:  # the address changed since: that mailbox no longer counts
        raise LinkInvalid()
    user.password_hash = passwords.hash_password(new_password)
    count = sessions.revoke_all(user.id, "password_reset")
    audit.record("password_reset", user_id=user.id, detail={"sessions_revoked": count})

