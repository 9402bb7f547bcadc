"""Password reset by a mailed link: a 202 for any email, a single-use token for 1 h."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import insert, select, update

from authapi import audit, db
from authapi.accounts import links, mfa, notices, passkeys, passwords
from authapi.accounts.users import get, normalize_email
from authapi.db import utcnow
from authapi.errors import LinkInvalid
from authapi.mail import outbox
from authapi.models import ResetRequest, User
from authapi.sessions import sessions

RECORD = insert(ResetRequest)
UNDO_WINDOW = timedelta(hours=1)


def request_reset(email: str) -> None:
    """Record a reset request; the caller answers the same whether or not the account exists.

    The request writes one row of the same shape for any email and never looks the
    account up: that, the throttle, the link and the mail happen after commit, in the
    outbox worker (handle_request). Both answers run the same statements (README: the
    times measured).
    """
    meta = audit.request_meta()
    db.orm().execute(RECORD, {"email": normalize_email(email), "ip": meta.ip,
                              "user_agent": meta.user_agent, "requested_at": utcnow()})
    outbox.notify()


def handle_requests(limit: int) -> int:
    """Decide up to `limit` pending reset requests, oldest first; how many were pending.

    An outbox job (registered in create_app): runs outside any request, before the
    mail is sent, and owns its transactions.
    """
    session = db.orm()
    pending = session.scalars(select(ResetRequest.id).where(ResetRequest.handled_at.is_(None))
                              .order_by(ResetRequest.id).limit(limit)).all()
    session.rollback()
    for request_id in pending:
        handle_request(request_id)
    return len(pending)


def handle_request(request_id: int) -> None:
    """Mail a link if the request's account exists, is enabled and is under the throttle.

    One transaction claims the request (a conditional UPDATE: of two workers exactly
    one handles it), issues the link, queues the mail and audits the outcome; a
    worker that dies before the commit leaves the request pending.
    """
    session = db.orm()
    claimed = db.affected(update(ResetRequest).where(
        ResetRequest.id == request_id, ResetRequest.handled_at.is_(None)
    ).values(handled_at=utcnow()))
    job = session.get(ResetRequest, request_id) if claimed else None
    if job is None:
        session.rollback()
        return  # another worker has it, or had it
    found = session.execute(select(User.id, User.disabled).where(User.email == job.email)).first()
    sent = False
    if found and not found.disabled and not links.throttled(found.id, links.PASSWORD_RESET):
        link = links.issue(found.id, links.PASSWORD_RESET, job.email)
        outbox.queue(job.email, "password_reset", email=job.email, link=link,
                     hours=max(1, links.ttl(links.PASSWORD_RESET) // 3600))
        sent = True
    audit.record("password_reset_requested", user_id=found and found.id, detail={"sent": sent},
                 origin=audit.ClientMeta(ip=job.ip, user_agent=job.user_agent),
                 at=job.requested_at)
    session.commit()


def confirm_reset(token: str, new_password: str) -> None:
    """Set a new password from a reset link (once); every session of the user is revoked."""
    passwords.check_policy(new_password)  # before the token is spent: a retry keeps it
    row = links.consume(token, links.PASSWORD_RESET)
    user = get(row.user_id)
    if row.email != user.email:  # the address changed since: that mailbox no longer counts
        raise LinkInvalid()
    user.password_hash = passwords.hash_password(new_password)
    count = sessions.revoke_all(user.id, "password_reset")
    undone = _undo_recent_factors(user)
    cancelled = links.void(user.id, links.CHANGE_EMAIL)  # its link went to whoever asked
    notices.account_changed(user, notices.PASSWORD_RESET, undone=undone + (
        ("A change of the account's address, asked for before the reset and not yet "
         "confirmed, was cancelled.",) if cancelled else ()))
    audit.record("password_reset", user_id=user.id,
                 detail={"sessions_revoked": count, "factors_removed": len(undone),
                         "address_change_cancelled": bool(cancelled)})


def _undo_recent_factors(user: User) -> tuple[str, ...]:
    """A reset proves the mailbox, not the sessions: a passkey or TOTP added in the hour
    before it (UNDO_WINDOW) may be an intruder's way back in, so it is taken back (the
    owner's notice names each). Older factors stay: they were announced by mail when
    added, and a reset is no way around a second factor the owner keeps."""
    since = utcnow() - UNDO_WINDOW
    lines = [f'The passkey "{name}", added in the hour before the reset, was removed.'
             for name in passkeys.undo_recent(user.id, since)]
    if mfa.undo_recent(user, since):
        lines.append("Two-step sign-in (TOTP), turned on in the hour before the reset, was "
                     "turned off.")
    return tuple(lines)

