"""The refresh grace window (AUTHAPI_REFRESH_GRACE): tabs that race on one refresh token.

When several tabs of a single-page app refresh at once with the same token, strict
rotation lets one win and calls the others a reuse, which revokes the session. With a
window of N seconds, presenting the token that was *just* rotated, within N seconds of
that rotation, answers the very pair the rotation issued, byte for byte: no second
chain is ever started, whatever the signing algorithm (ES256 signatures are not
deterministic, so the pair is kept rather than re-signed).

The pair is kept in `refresh_grace`, one row per session, Fernet-encrypted under a key
derived from AUTHAPI_SECRET_KEY, and written in the transaction of the conditional
UPDATE that consumed the token (sessions.rotate). That UPDATE's row lock serialises
rotations of a session across every instance sharing the database, and a losing
UPDATE (row count 0) only happens once the winner has committed, so the loser's read
below sees the winner's row. Any older token, a token presented after the window, or
the just-rotated token once its successor has itself been used, is reuse as before.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from cryptography.fernet import InvalidToken
from sqlalchemy import bindparam, select
from sqlalchemy.dialects.postgresql import insert  # the same ON CONFLICT on SQLite

from authapi import audit, context, db
from authapi.db import utcnow
from authapi.models import RefreshGrace, UserSession
from authapi.tokens import secretbox

PURPOSE = "refresh grace"  # secretbox: its own key, derived from AUTHAPI_SECRET_KEY


# One statement, compiled once, for the session's one row: insert or replace it.
_COLUMNS = ("session_id", "previous_jti", "successor_jti", "rotated_at", "successor")
_UPSERT = insert(RefreshGrace).values({name: bindparam(name) for name in _COLUMNS})
KEEP = db.Prepared(_UPSERT.on_conflict_do_update(
    index_elements=["session_id"], set_={name: _UPSERT.excluded[name] for name in _COLUMNS[1:]}))


def window() -> int:
    """The configured grace window in seconds; 0 turns it off."""
    return int(context.app().config["AUTHAPI_REFRESH_GRACE"])


def remember(session_id: str, previous_jti: str, successor_jti: str,
             pair: dict[str, Any]) -> None:
    """Keep the pair a rotation just issued, encrypted, for the grace window (if on)."""
    if not window():
        return
    # In the rotation's transaction, whose UPDATE holds the session row.
    KEEP.within(db.orm().connection(), {
        "session_id": session_id, "previous_jti": previous_jti,
        "successor_jti": successor_jti, "rotated_at": utcnow(),
        "successor": secretbox.seal(json.dumps(pair), PURPOSE)})


def replay(claims: dict[str, Any]) -> dict[str, Any] | None:
    """The pair a just-rotated refresh token was rotated into, inside the window; else None."""
    seconds = window()
    if not seconds:
        return None
    ciphertext = db.orm().scalar(
        select(RefreshGrace.successor)
        .join(UserSession, UserSession.id == RefreshGrace.session_id)
        .where(RefreshGrace.session_id == claims["sid"],
               RefreshGrace.previous_jti == claims["jti"],
               RefreshGrace.rotated_at > utcnow() - timedelta(seconds=seconds),
               # Its successor is still the session's current token: unused, not revoked.
               UserSession.refresh_jti == RefreshGrace.successor_jti,
               UserSession.user_id == claims["sub"], UserSession.revoked_at.is_(None)))
    if ciphertext is None:
        return None
    try:
        pair: dict[str, Any] = json.loads(secretbox.unseal(ciphertext, PURPOSE))
    except InvalidToken:  # AUTHAPI_SECRET_KEY changed since: no replay, reuse as usual
        return None
    audit.record("refresh", user_id=claims["sub"],
                 detail={"session_id": claims["sid"], "grace": True})
    return pair
