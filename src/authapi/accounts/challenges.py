"""WebAuthn ceremony challenges: kept server-side by id, single-use, short-lived.

No cookie session holds ceremony state, so a single-page app or a native client
only carries the `challenge_id` from the options call to the verify call.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy import delete, select

from authapi import db
from authapi.db import utcnow
from authapi.errors import InvalidCredentials
from authapi.models import WebauthnChallenge
from authapi.sessions.sessions import is_uuid

CHALLENGE_BYTES = 32  # WebAuthn §13.4.3: at least 16 random bytes


@dataclass(frozen=True)
class Pending:
    """A consumed challenge: what it was issued for, and to whom."""

    purpose: str
    user_id: str | None
    challenge: bytes


def ttl() -> int:
    """How long a challenge lives, seconds."""
    return int(current_app.config["AUTHAPI_WEBAUTHN_CHALLENGE_TTL"])


def issue(purpose: str, user_id: str | None) -> tuple[str, bytes]:
    """Store a fresh challenge for one ceremony; return its id and its bytes."""
    now = utcnow()
    # Expired challenges are dropped as new ones come in, so the table stays small.
    db.affected(delete(WebauthnChallenge).where(WebauthnChallenge.expires_at < now))
    challenge = secrets.token_bytes(CHALLENGE_BYTES)
    row = WebauthnChallenge(purpose=purpose, user_id=user_id,
                            challenge=challenge.hex(), expires_at=now + timedelta(seconds=ttl()))
    db.orm().add(row)
    db.orm().flush()
    return row.id, challenge


def consume(challenge_id: str, purposes: tuple[str, ...]) -> Pending:
    """Use up a live challenge issued for one of `purposes`; InvalidCredentials otherwise."""
    if not is_uuid(challenge_id):
        raise InvalidCredentials("Unknown, used or expired challenge.")
    row = db.orm().execute(
        select(WebauthnChallenge.purpose, WebauthnChallenge.user_id, WebauthnChallenge.challenge)
        .where(WebauthnChallenge.id == challenge_id, WebauthnChallenge.purpose.in_(purposes))
    ).first()
    # The conditional DELETE decides: of two concurrent uses, exactly one removes the row.
    taken = row is not None and db.affected(
        delete(WebauthnChallenge).where(WebauthnChallenge.id == challenge_id,
                                        WebauthnChallenge.expires_at > utcnow()))
    if row is None or not taken:
        raise InvalidCredentials("Unknown, used or expired challenge.")
    return Pending(purpose=row.purpose, user_id=row.user_id, challenge=bytes.fromhex(row.challenge))
