"""Is a token revoked? One cached answer per session, kept fresh by a change feed.

Every revocation writes a row to `revocation_events` in the same transaction as
the revocation itself. Each process caches what it looked up (per session: revoked?
and the instant before which its access tokens are void), and drops stale entries:
- at once after its own commits;
- at once when a sibling worker on this host commits one, through a shared
  counter file in the instance folder that every worker maps into memory;
- within `AUTHAPI_REVOCATION_POLL_INTERVAL` seconds (default 0.2) for any other
  instance sharing the database: one watcher per host polls the feed and bumps the
  counter (hostwatch.py); with AUTHAPI_REDIS_URL set, a pub/sub nudge
  (broadcast.py) makes them look at once, and polling slows to a safety net.
A check that hits the cache costs two dict look-ups; a miss costs one primary-key
read. Neither depends on how many tokens or sessions were ever revoked.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, cast

from cachetools import LRUCache
from flask import Flask
from sqlalchemy import bindparam, event, func, insert, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session as OrmSession

from authapi import context, db
from authapi.errors import Unavailable
from authapi.models import RevocationEvent, RevokedToken, UserSession
from authapi.ops import metrics
from authapi.tokens.broadcast import Nudge
from authapi.tokens.sharedcounter import GOOD_POLL, HEARTBEAT, SharedCounter

log = logging.getLogger(__name__)
# Commits that took longer than this to become visible after taking their event id
# could be skipped by an id-only poll; re-reading this window covers them.
LOOKBACK_SECONDS = 2.0
MAX_ENTRIES = 200_000
LEADER_TIMEOUT = 0.5  # a watcher silent this long is gone: workers poll for themselves
# Feed entries that say: rows behind a per-process cache changed, drop that whole cache
# (tokens/changes.py writes them): users' profiles, and OAuth clients.
PROFILES, CLIENTS = "profiles:*", "clients:*"
DERIVED = (PROFILES, CLIENTS)
DERIVED_CACHE_SIZE = 100_000

SESSION_STATE = db.Read(select(UserSession.revoked_at, UserSession.access_not_before)
                        .where(UserSession.id == bindparam("sid")))
JTI_REVOKED = db.Read(select(RevokedToken.jti).where(RevokedToken.jti == bindparam("jti")))
REVOKED_AT = db.Read(select(RevokedToken.revoked_at).where(RevokedToken.jti == bindparam("jti")))
FEED = db.Read(select(RevocationEvent.id, RevocationEvent.session_id, RevocationEvent.jti)
               .where(RevocationEvent.id > bindparam("floor")))


@dataclass
class RevocationCache:
    """Per-process revocation state: (revoked, access_not_before_ms) per session id."""

    engine: Engine
    counter: SharedCounter
    poll_interval: float
    nudge: Nudge | None = None
    outage_grace: float = 60.0
    safety_poll: float = 5.0
    sessions: LRUCache[str, tuple[bool, int]] = field(
        default_factory=lambda: LRUCache(maxsize=MAX_ENTRIES))
    jtis: LRUCache[str, bool] = field(default_factory=lambda: LRUCache(maxsize=MAX_ENTRIES))
    # A client's cut-off (client_key): its tokens minted up to then are void; 0: none.
    cutoffs: LRUCache[str, int] = field(default_factory=lambda: LRUCache(maxsize=MAX_ENTRIES))
    # Caches of rows the feed invalidates, by kind (DERIVED), and a generation each.
    derived: dict[str, LRUCache[str, Any]] = field(default_factory=lambda: {
        kind: LRUCache(maxsize=DERIVED_CACHE_SIZE) for kind in DERIVED})
    generations: dict[str, int] = field(default_factory=lambda: dict.fromkeys(DERIVED, 0))
    seen_count: int = -1
    last_poll: float = 0.0
    synced_at: float = 0.0
    floor_id: int = 0
    history: deque[tuple[float, int]] = field(default_factory=deque)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> None:
        """Skip the feed's past: an empty cache has nothing stale in it."""
        with self.engine.connect() as conn:
            self.floor_id = int(conn.scalar(
                select(func.coalesce(func.max(RevocationEvent.id), 0))) or 0)
        self.seen_count = self.counter.read()
        self.last_poll = self.synced_at = time.monotonic()

    def sync(self) -> None:
        """Drop entries that other processes have made stale since the last look.

        While the feed cannot be read (the database is down), cached answers are
        still given for `outage_grace` seconds after the last good look: no
        revocation can be recorded without the database, so they can only have
        missed one written from a place that still reaches it. After that, 503.
        A cache miss always needs the database: it fails closed (503) at once.
        """
        if self.seen_count < 0:
            self.start()
        now = time.monotonic()
        count = self.counter.read()
        nudged = self.nudge is not None and self.nudge.take()
        if count == self.seen_count and not nudged and not self.due(now):
            if now - self.synced_at > self.outage_grace and self._stale():
                raise Unavailable()
            return
        try:
            self._poll(now, count)
        except (Unavailable, SQLAlchemyError):
            self.last_poll, self.seen_count = now, count  # retry after an interval, not per request
            if now - self.synced_at > self.outage_grace and self._stale():
                raise Unavailable() from None
            log.warning("revocation feed unreadable; answering from the cache")

    def due(self, now: float) -> bool:
        """Whether this process must read the feed itself because time passed.

        Not while the host's watcher is alive: it reads the feed for every worker and
        bumps the counter when there is news. Otherwise every `poll_interval`, or every
        `safety_poll` while Redis nudges arrive (the nudge is then the signal).
        """
        healthy = self.nudge is not None and self.nudge.healthy
        interval = self.safety_poll if healthy else self.poll_interval
        if now - self.last_poll < interval:
            return False
        return time.time() - self.counter.stamped(HEARTBEAT) > LEADER_TIMEOUT

    def _stale(self) -> bool:
        """Whether the host's watcher has not read the feed within the outage grace either."""
        return time.time() - self.counter.stamped(GOOD_POLL) > self.outage_grace

    def _poll(self, now: float, count: int) -> None:
        with self.lock:
            rows = FEED.rows({"floor": self.floor_id}, engine=self.engine)
            self.seen_count = count
            newest = self.floor_id
            for event_id, session_id, jti in rows:
                self.forget(session_id, jti)
                newest = max(newest, event_id)
            self.history.append((now, newest))
            while self.history and now - self.history[0][0] > LOOKBACK_SECONDS:
                self.floor_id = self.history.popleft()[1]
            self.last_poll = self.synced_at = now

    def forget(self, session_id: str | None, jti: str | None) -> None:
        """Drop what is cached for a session or a jti (for a DERIVED kind: all of it)."""
        if session_id:
            self.sessions.pop(session_id, None)
        if jti in self.derived:
            self.generations[jti] += 1
            self.derived[jti].clear()
        elif jti:
            self.jtis.pop(jti, None)
            self.cutoffs.pop(jti, None)

    def remembered(self, kind: str, key: str, load: Callable[[str], Any]) -> Any:
        """`load(key)`, cached under `kind` until the feed says its rows changed. A value
        loaded while a change landed (the generation moved) is returned, not kept; None
        (nothing found) is never kept."""
        cached = self.derived[kind].get(key)
        if cached is not None:
            return cached
        generation = self.generations[kind]
        value = load(key)
        if value is not None and self.generations[kind] == generation:
            self.derived[kind][key] = value
        return value

    def session_state(self, session_id: str) -> tuple[bool, int]:
        """(revoked, access_not_before_ms) of a session; a missing one counts as revoked."""
        return cast(tuple[bool, int], self._looked_up(self.sessions, session_id,
                                                      self._read_session))

    def cutoff_ms(self, key: str) -> int:
        """When the tokens under `key` (a client's, client_key) were last voided, in ms
        since the epoch; 0 if they never were."""
        return cast(int, self._looked_up(self.cutoffs, key, self._read_cutoff))

    def jti_revoked(self, jti: str) -> bool:
        """Whether a single token was revoked by its jti."""
        return cast(bool, self._looked_up(self.jtis, jti, self._read_jti))

    @staticmethod
    def _looked_up(cached: LRUCache[str, Any], key: str, read: Callable[[str], Any]) -> Any:
        """`cached[key]`, read from the database (and kept) on a miss; hits and misses
        counted."""
        value = cached.get(key)
        if value is not None:
            metrics.CACHE_HIT.inc()
            return value
        metrics.CACHE_MISS.inc()
        value = cached[key] = read(key)
        return value

    def _read_session(self, session_id: str) -> tuple[bool, int]:
        rows = SESSION_STATE.rows({"sid": session_id}, engine=self.engine)
        revoked_at, not_before = rows[0] if rows else (True, 0)
        return revoked_at is not None, int(not_before or 0)

    def _read_cutoff(self, key: str) -> int:
        rows = REVOKED_AT.rows({"jti": key}, engine=self.engine)
        return int(rows[0][0].timestamp() * 1000) if rows else 0

    def _read_jti(self, jti: str) -> bool:
        return bool(JTI_REVOKED.rows({"jti": jti}, engine=self.engine))


def cache() -> RevocationCache:
    """The current app's revocation cache."""
    return context.app().extensions["authapi.tokens.revocation"]


def minted_ms(jti: str) -> int:
    """The millisecond a jti of ours was minted; 0 if it is not one."""
    try:
        value = uuid.UUID(jti)
    except (ValueError, TypeError, AttributeError):
        return 0
    return value.int >> 80 if value.version == 7 else 0


def is_revoked(claims: dict[str, Any]) -> bool:
    """Whether a verified access token has been revoked, by session or by jti.

    Its mint time (from the UUIDv7 jti) is read only for a session whose access
    tokens were voided (`not_before` set by a role change), not on every check.
    """
    state = cache()
    state.sync()
    client_id = claims.get("client_id")
    if isinstance(client_id, str):  # void if minted before its client was last voided
        cutoff = state.cutoff_ms(client_key(client_id))
        if cutoff and minted_ms(claims["jti"]) <= cutoff:
            return True
    session_id = claims.get("sid")
    if session_id is None:
        return state.jti_revoked(claims["jti"])
    revoked, not_before = state.session_state(session_id)
    return revoked or (not_before > 0 and minted_ms(claims["jti"]) < not_before)


def client_key(client_id: str) -> str:
    """The revoked-token key whose `revoked_at` voids the tokens issued to a client before."""
    return "client:" + client_id


def void_before_now(db_session: OrmSession, key: str, expires_at: Any,
                    settle_seconds: float) -> None:
    """Void every token under `key` (client_key) minted up to now, and none minted once
    the change has reached every process: a client enabled again, or one whose scope was
    narrowed, gets working tokens seconds later instead of one access TTL later.

    The row's `revoked_at` is the cut-off, `settle_seconds` ahead: another instance's
    cached client row (old scope, still enabled) is stale for at most its poll interval,
    and clocks differ; a token it mints meanwhile falls before the cut-off. A later call
    moves the cut-off on, and keeps the row until `expires_at`."""
    cutoff = db.utcnow() + timedelta(seconds=settle_seconds)
    row = db_session.get(RevokedToken, key)
    if row is None:
        db_session.add(RevokedToken(jti=key, expires_at=expires_at, revoked_at=cutoff))
    else:
        row.revoked_at, row.expires_at = cutoff, max(row.expires_at, expires_at)
    record(db_session, jti=key)


def record(db_session: OrmSession, *, session_id: str | None = None,
           jti: str | None = None) -> None:
    """Log a revocation in the current transaction; caches drop it once committed."""
    db_session.add(RevocationEvent(session_id=session_id, jti=jti))
    db_session.info.setdefault("revocations", []).append((session_id, jti))


def record_sessions(db_session: OrmSession, session_ids: list[str]) -> None:
    """Log the revocation of many sessions with one multi-row INSERT, not one per session."""
    if session_ids:
        db_session.execute(insert(RevocationEvent), [{"session_id": sid} for sid in session_ids])
        db_session.info.setdefault("revocations", []).extend((sid, None) for sid in session_ids)


def revoke_jti(db_session: OrmSession, jti: str, expires_at: Any) -> None:
    """Revoke one token by its jti until it would have expired."""
    if db_session.get(RevokedToken, jti) is None:
        db_session.add(RevokedToken(jti=jti, expires_at=expires_at))
        record(db_session, jti=jti)


def _after_commit(db_session: OrmSession) -> None:
    pending = db_session.info.pop("revocations", None)
    if not pending:
        return
    state: RevocationCache = db_session.info["revocation_cache"]
    for session_id, jti in pending:
        state.forget(session_id, jti)
        metrics.REVOCATIONS.labels("session" if session_id else "jti").inc()
    state.counter.bump()
    if state.nudge is not None:
        state.nudge.publish()


def _after_rollback(db_session: OrmSession) -> None:
    db_session.info.pop("revocations", None)


def init_app(app: Flask, instance_path: Path) -> None:
    """Create the app's cache and hook it to commits of the app's sessions."""
    state = RevocationCache(
        engine=app.extensions["authapi.read_engine"],
        counter=SharedCounter(instance_path / "revocation.seq"),
        poll_interval=float(app.config["AUTHAPI_REVOCATION_POLL_INTERVAL"]),
        outage_grace=float(app.config["AUTHAPI_OUTAGE_GRACE"]),
        safety_poll=float(app.config["AUTHAPI_REVOCATION_SAFETY_POLL"]),
        nudge=Nudge(app.config["AUTHAPI_REDIS_URL"]) if app.config["AUTHAPI_REDIS_URL"] else None,
    )
    app.extensions["authapi.tokens.revocation"] = state
    factory = app.extensions["authapi.sessionmaker"]
    factory.configure(info={"revocation_cache": state})
    event.listen(factory, "after_commit", _after_commit)
    event.listen(factory, "after_soft_rollback", lambda s, _t: _after_rollback(s))
