"""Database plumbing: the model base, one engine per app, one session per app context."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, cast

from flask import Flask, current_app, g
from sqlalchemy import MetaData, create_engine, event
from sqlalchemy.engine import CursorResult, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.pool import NullPool
from sqlalchemy.sql import Executable

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Model(DeclarativeBase):
    """Base of every table, with stable constraint names for Alembic."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


def database_url(app: Flask) -> str:
    """The configured URL, or SQLite in the instance folder."""
    url = str(app.config["AUTHAPI_DATABASE_URL"] or "")
    if url:
        return url
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{Path(app.instance_path) / 'authapi.db'}"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def make_engine(url: str) -> Engine:
    """An engine tuned for the backend: WAL and busy timeout on SQLite, pre-ping elsewhere."""
    if url.startswith("sqlite"):
        # NullPool would reopen the file per request; the default QueuePool keeps it open.
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def make_read_engine(url: str) -> Engine:
    """An engine for the per-request reads: autocommit, no pre-ping, no reset on return.

    Each read then costs one round trip instead of four (ping, BEGIN, query,
    ROLLBACK). A connection that died is invalidated by SQLAlchemy and `read`
    retries once on a fresh one.
    """
    if url.startswith("sqlite"):
        engine = create_engine(url, isolation_level="AUTOCOMMIT",
                               connect_args={"timeout": 30, "check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, isolation_level="AUTOCOMMIT", pool_reset_on_return=None,
                         pool_size=5, max_overflow=10)


def read(statement: Executable, params: dict[str, Any], *,
         engine: Engine | None = None) -> list[Any]:
    """Run one read outside any transaction, on the read engine."""
    engine = engine or current_app.extensions["authapi.read_engine"]
    try:
        with engine.connect() as conn:
            return list(conn.execute(statement, params).all())
    except DBAPIError as exc:
        if not exc.connection_invalidated:
            raise
    with engine.connect() as conn:  # the pooled connection was dead: one retry
        return list(conn.execute(statement, params).all())


_NAMED_PARAM = re.compile(r":(\w+)")


@lru_cache(maxsize=64)
def _driver_sql(sql: str, paramstyle: str) -> str:
    return _NAMED_PARAM.sub(r"%(\1)s", sql) if paramstyle == "pyformat" else sql


def read_raw(sql: str, params: dict[str, Any], *,
             engine: Engine | None = None) -> list[tuple[Any, ...]]:
    """One read through the DBAPI cursor of a pooled autocommit connection.

    For the hottest reads only: SQLAlchemy's execution context costs about as much
    as the round trip itself. `sql` takes :name parameters; values come back as the
    driver gives them (callers normalize). A dead connection is retried once.
    """
    engine = engine or current_app.extensions["authapi.read_engine"]
    statement = _driver_sql(sql, engine.dialect.paramstyle)
    for attempt in (1, 2):
        conn = engine.raw_connection()
        try:
            cursor = conn.cursor()
            try:
                cursor.execute(statement, params)
                return list(cursor.fetchall())
            finally:
                cursor.close()
        except engine.dialect.loaded_dbapi.Error as exc:
            if attempt == 2 or not engine.dialect.is_disconnect(exc, conn.dbapi_connection, None):
                raise
            conn.invalidate()
        finally:
            conn.close()
    raise AssertionError("unreachable")


def make_disposable_engine(url: str) -> Engine:
    """An engine for one-off work (CLI, migrations) that holds no pooled connections."""
    engine = create_engine(url, poolclass=NullPool)
    if url.startswith("sqlite"):
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def init_app(app: Flask) -> None:
    """Create the app's engine and session factory, and close sessions at teardown."""
    engine = make_engine(database_url(app))
    app.extensions["authapi.engine"] = engine
    app.extensions["authapi.read_engine"] = make_read_engine(database_url(app))
    app.extensions["authapi.sessionmaker"] = sessionmaker(engine, expire_on_commit=False)
    app.teardown_appcontext(_close_session)


def dispose(app: Flask) -> None:
    """Close every pooled connection of the app (before a fork, or at the end of a test)."""
    for name in ("authapi.engine", "authapi.read_engine"):
        app.extensions[name].dispose()


def engine() -> Engine:
    """The current app's engine."""
    return current_app.extensions["authapi.engine"]


def session() -> Session:
    """The session of the current app context, opened on first use."""
    if "db_session" not in g:
        g.db_session = current_app.extensions["authapi.sessionmaker"]()
    return g.db_session


def count(statement: Executable) -> int:
    """Execute an UPDATE or DELETE in the current session; return how many rows it hit."""
    result = session().execute(statement.execution_options(synchronize_session=False))
    return int(cast(CursorResult[Any], result).rowcount)


def _close_session(_exc: BaseException | None) -> None:
    db_session = g.pop("db_session", None)
    if db_session is not None:
        db_session.close()  # rolls back anything not committed
