"""Single-use tokens mailed as links: issued random, stored only as a keyed hash, consumed once."""

from __future__ import annotations

import secrets
from datetime import timedelta
from urllib.parse import urlencode

from flask import current_app
from sqlalchemy import func, select, update

from authapi import db
from authapi.db import utcnow
from authapi.errors import LinkInvalid
from authapi.models import LinkToken
from authapi.tokens import secretbox

HASHED = "link tokens"
PASSWORD_RESET = "password_reset"  # noqa: S105  (a purpose, not a secret)
VERIFY_EMAIL = "verify_email"
CHANGE_EMAIL = "change_email"
# purpose: (TTL setting, page of the frontend the link opens)
PURPOSES = {
    PASSWORD_RESET: ("AUTHAPI_PASSWORD_RESET_TTL", "/reset-password"),
    VERIFY_EMAIL: ("AUTHAPI_VERIFY_EMAIL_TTL", "/verify-email"),
    CHANGE_EMAIL: ("AUTHAPI_EMAIL_CHANGE_TTL", "/confirm-email"),
}
MAX_TOKEN_LENGTH = 128
PER_HOUR = 5  # links of one purpose mailed to one account per hour: no mail bombing


def ttl(purpose: str) -> int:
    """Seconds a link of this purpose stays valid."""
    return int(current_app.config[PURPOSES[purpose][0]])


def frontend(path: str, **query: str) -> str:
    """A URL of the frontend (AUTHAPI_FRONTEND_URL) for a link in a mail."""
    base = str(current_app.config["AUTHAPI_FRONTEND_URL"]).rstrip("/")
    return base + path + (f"?{urlencode(query)}" if query else "")


def new_token() -> str:
    """256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


def throttled(user_id: str, purpose: str) -> bool:
    """Whether this account was mailed PER_HOUR links of this purpose in the last hour."""
    since = utcnow() - timedelta(hours=1)
    recent = db.orm().scalar(select(func.count()).select_from(LinkToken).where(
        LinkToken.user_id == user_id, LinkToken.purpose == purpose,
        LinkToken.created_at > since)) or 0
    return recent >= PER_HOUR


def issue(user_id: str, purpose: str, email: str) -> str:
    """A new token for `email` (added to the transaction); returns the link to mail."""
    token = new_token()
    db.orm().add(LinkToken(token_hash=secretbox.keyed_hash(token, HASHED), user_id=user_id,
                           purpose=purpose, email=email,
                           expires_at=utcnow() + timedelta(seconds=ttl(purpose))))
    return frontend(PURPOSES[purpose][1], token=token)


def void(user_id: str, purpose: str) -> int:
    """Make the user's unused tokens of this purpose unusable; how many there were."""
    return db.affected(update(LinkToken).where(
        LinkToken.user_id == user_id, LinkToken.purpose == purpose,
        LinkToken.used_at.is_(None), LinkToken.expires_at > utcnow()).values(used_at=utcnow()))


def consume(token: str, purpose: str) -> LinkToken:
    """Use a token once; LinkInvalid if unknown, expired, used or for another purpose.

    One conditional UPDATE: of two concurrent uses exactly one wins. The user's other
    unused tokens of this purpose are voided with it.
    """
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise LinkInvalid()
    token_hash, now = secretbox.keyed_hash(token, HASHED), utcnow()
    used = db.affected(update(LinkToken).where(
        LinkToken.token_hash == token_hash, LinkToken.purpose == purpose,
        LinkToken.used_at.is_(None), LinkToken.expires_at > now).values(used_at=now))
    row = db.orm().scalar(select(LinkToken).where(LinkToken.token_hash == token_hash))
    if not used or row is None:
        raise LinkInvalid()
    db.affected(update(LinkToken).where(LinkToken.user_id == row.user_id,
                                        LinkToken.purpose == purpose,
                                        LinkToken.used_at.is_(None)).values(used_at=now))
    return row
