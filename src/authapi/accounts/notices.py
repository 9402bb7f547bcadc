"""Mails that tell a user something happened to their account without asking them to act."""

from __future__ import annotations

from authapi import db
from authapi.accounts import links
from authapi.audit import request_meta
from authapi.mail import outbox
from authapi.models import User, UserSession

DATE_FORMAT = "%Y-%m-%d %H:%M:%S UTC"
PASSWORD_PAGE = "/account/password"  # noqa: S105  (a page, not a secret)


def session_stolen(row: UserSession) -> None:
    """Mail the owner that a replayed refresh token signed a session out; never a token.

    Says when, from which address and user agent the used token came back, and links
    to the page where the password is changed.
    """
    user = db.orm().get(User, row.user_id)
    if user is None:
        return
    meta = request_meta()
    outbox.queue(user.email, "session_stolen", when=db.utcnow().strftime(DATE_FORMAT),
                 ip=meta.ip or "unknown", user_agent=meta.user_agent or "unknown",
                 opened=row.created_at.strftime(DATE_FORMAT),
                 link=links.frontend(PASSWORD_PAGE))


# What changed, as a mail subject and a sentence that starts "... on your account".
PASSWORD_CHANGED = ("Your password was changed", "The password was changed")
PASSWORD_RESET = ("Your password was reset", "The password was reset by a mailed link")
TOTP_ENABLED = ("Two-step sign-in (TOTP) was turned on",
                "Two-step sign-in with an authenticator app was turned on")
TOTP_DISABLED = ("Two-step sign-in (TOTP) was turned off",
                 "Two-step sign-in with an authenticator app was turned off")
PASSKEY_ADDED = ("A passkey was added", "A passkey was added")


def account_changed(user: User, change: tuple[str, str], detail: str = "",
                    undone: tuple[str, ...] = ()) -> None:
    """Tell the owner a sensitive change was made to their account: what, when, from
    where, and (`undone`) what it took back; with the link to reset the password."""
    meta = request_meta()
    subject, what = change
    outbox.queue(user.email, "account_changed", subject=subject, what=what + detail,
                 email=user.email, when=db.utcnow().strftime(DATE_FORMAT),
                 ip=meta.ip or "unknown", user_agent=meta.user_agent or "unknown",
                 undone=list(undone), link=links.frontend(RESET_PAGE))


def email_change(old_email: str, new_email: str, done: bool) -> None:
    """Tell the old address that a change of address was asked for, or made."""
    outbox.queue(old_email, "email_change_notice", email=old_email, new_email=new_email,
                 done=done, link=links.frontend(PASSWORD_PAGE))


RESET_PAGE = "/password-reset"
REFUSAL_REASONS = {
    "account_unverified": "its address has not been confirmed",
    "unverified_email": "the provider did not confirm the address",
    "different_address": ("the provider confirmed an address that only matches yours once "
                          "letters such as ß and ss are taken as one"),
}


def link_refused(email: str, provider: str, reason: str) -> None:
    """Tell an address that a provider sign-in was not linked to its account, and why."""
    outbox.queue(email, "oidc_link_refused", email=email, provider=provider,
                 reason=REFUSAL_REASONS[reason], link=links.frontend(RESET_PAGE))
