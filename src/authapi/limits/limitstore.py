"""A `limits` storage in the app's own database, for the rate limits without Redis.

`limits` ships memory, Redis, memcached and MongoDB storages. Memory is per
process: with `--workers 4` every limit would hold four times over. This storage
(a public extension point: subclasses of `limits.storage.Storage` register their
URI scheme) keeps fixed-window counters in the `rate_limits` table, so every worker
of every instance on the database counts together. Each hit is one upsert with
RETURNING, atomic under concurrency; it runs on its own short transaction, so a
request that fails still counts.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any, cast

from limits.storage import Storage
from sqlalchemy import Table, bindparam, case, delete, select, text
from sqlalchemy.exc import SQLAlchemyError

from authapi import db
from authapi.models import RateLimit

TABLE = cast(Table, RateLimit.__table__)
# Built once, read on the read engine: a limit is tested on every limited request (the
# token endpoint, login). Through the write engine's pool and SQLAlchemy's execution
# context it cost about 0.3 ms of every token request (in-process profile, SQLite), and
# three round trips on PostgreSQL (BEGIN, SELECT, ROLLBACK).
WINDOW = db.Read(select(TABLE.c.hits, TABLE.c.expires_at).where(
    TABLE.c.key == bindparam("key"), TABLE.c.expires_at > bindparam("now")))


def digest(key: str) -> str:
    """The stored form of a key: fixed length, and no address or email kept in the clear."""
    return hashlib.sha256(key.encode()).hexdigest()


class SqlStorage(Storage):
    """Fixed-window counters in the `rate_limits` table (URI `authapi+sql://`).

    The engine is the current app's, looked up per call and never captured, so the
    storage needs nothing from the app that built it (tests make many apps).
    """

    STORAGE_SCHEME = ["authapi+sql"]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False,
                 **options: Any) -> None:
        super().__init__(uri, wrap_exceptions=wrap_exceptions)

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        """What a database failure raises."""
        return SQLAlchemyError

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        """Add `amount` hits in the key's window (a new window if the old one ended)."""
        now = time.time()
        expired = TABLE.c.expires_at <= now
        engine = db.engine()
        statement = db.upsert(engine, TABLE).values(
            key=digest(key), hits=amount, expires_at=now + expiry,
        ).on_conflict_do_update(index_elements=[TABLE.c.key], set_={
            "hits": case((expired, amount), else_=TABLE.c.hits + amount),
            "expires_at": case((expired, now + expiry), else_=TABLE.c.expires_at),
        }).returning(TABLE.c.hits)
        with engine.begin() as conn:
            return int(conn.execute(statement).scalar_one())

    def _row(self, key: str) -> tuple[int, float] | None:
        rows = WINDOW.rows({"key": digest(key), "now": time.time()})
        return (int(rows[0][0]), float(rows[0][1])) if rows else None

    def get(self, key: str) -> int:
        """Hits in the key's current window."""
        row = self._row(key)
        return 0 if row is None else row[0]

    def get_expiry(self, key: str) -> float:
        """When the key's current window ends (epoch seconds)."""
        row = self._row(key)
        return time.time() if row is None else row[1]

    def check(self) -> bool:
        """Whether the database answers."""
        try:
            with db.engine().connect() as conn:
                conn.execute(text("SELECT 1"))
        except SQLAlchemyError:
            return False
        return True

    def reset(self) -> int | None:
        """Forget every counter."""
        with db.engine().begin() as conn:
            return int(conn.execute(delete(TABLE)).rowcount)

    def clear(self, key: str) -> None:
        """Forget one counter."""
        with db.engine().begin() as conn:
            conn.execute(delete(TABLE).where(TABLE.c.key == digest(key)))

