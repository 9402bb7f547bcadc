"""Password reset by a mailed link: a 202 for any email, a single-use token for 1 h."""

from __future__ import annotations

from sqlalchemy import select

from . import audit, db, links, outbox, passwords, sessions
from .errors import LinkInvalid
from .models import User
from .users import get, normalize_email


def request_reset(email: str) -> None:
    """Mail a reset link if the account exists; the caller answers the same either way.

    The mail goes through the outbox, so neither path waits on SMTP; both read the
    same columns and render and seal a mail (README: the times measured).
    """
    address = normalize_email(email)
    found = db.orm().execute(select(User.id, User.disabled).where(User.email == address)).first()
    hours = max(1, links.ttl(links.PASSWORD_RESET) // 3600)
    # The throttle is read on either path, for an unknown email with an id that matches none.
    throttled = links.throttled(found.id if found else "", links.PASSWORD_RESET)
    if found is None or found.disabled or throttled:
        # The same work as a real request, thrown away: only the rows written differ.
        outbox.compose(address, "password_reset", email=address, hours=hours,
                       link=links.decoy(links.PASSWORD_RESET))
        audit.record("password_reset_requested", user_id=found and found.id,
                     detail={"sent": False})
        return
    link = links.issue(found.id, links.PASSWORD_RESET, address)
    outbox.queue(address, "password_reset", email=address, link=link, hours=hours)
    audit.record("password_reset_requested", user_id=found.id, detail={"sent": True})


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

