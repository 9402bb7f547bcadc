"""Database plumbing: the model base, one engine per app, one session per app context."""

from __future__ import annotations

import logging
import select
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from flask import Flask, Response
from sqlalchemy import MetaData, Table, create_engine, event
from sqlalchemy.engine import CursorResult, Engine
from sqlalchemy.exc import (
    DataError,
    DBAPIError,
    DisconnectionError,
    InterfaceError,
    OperationalError,
    SQLAlchemyError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import DeclarativeBase, sessionmaker
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.pool import NullPool
from sqlalchemy.sql import Executable

from authapi import context
from authapi.config import ConfigError
from authapi.errors import InternalError, Unavailable, ValidationError, render
from authapi.prepared import Prepared, Read, service_failed

__all__ = ["Model", "Prepared", "Read", "affected", "database_url", "dispose", "engine",
           "init_app", "make_disposable_engine", "make_engine", "make_read_engine", "orm",
           "upsert", "utcnow"]

log = logging.getLogger(__name__)

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
    try:
        Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"AUTHAPI_INSTANCE_PATH {app.instance_path} cannot be made a folder "
                          f"({exc.strerror})") from None
    return f"sqlite:///{Path(app.instance_path) / 'authapi.db'}"


def storable(text: str) -> bool:
    """Whether any database column can hold this text: no NUL (PostgreSQL refuses it), no
    lone surrogate (not UTF-8). The one rule for request fields and stored JSON alike."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


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
    psycopg = url.startswith("postgresql+psycopg")
    engine = create_engine(url, pool_pre_ping=not psycopg, pool_size=10, max_overflow=20)
    if psycopg:
        event.listen(engine, "checkout", _closed_by_server)
    return engine


def _closed_by_server(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """Pessimistic disconnect handling without a round trip (instead of pre-ping's
    `SELECT 1` on every checkout, one of a refresh's five round trips on PostgreSQL).

    An idle connection in the pool has nothing to read; one the server closed (a
    restart, a failover, an idle timeout) has its FIN or a termination message
    waiting. A zero-timeout poll of the socket tells them apart; SQLAlchemy's pool
    then drops the connection and checks out another (DisconnectionError). A link
    that died silently is found by the first statement, invalidated, and the request
    answers 503 once (`_database_error`), as before.
    """
    try:
        readable, _, _ = select.select([dbapi_connection.pgconn.socket], [], [], 0)
    except Exception:  # noqa: BLE001  (closed, or no socket: either way not usable)
        raise DisconnectionError() from None
    if readable:
        raise DisconnectionError()


def make_read_engine(url: str) -> Engine:
    """An engine for the per-request reads: autocommit, no pre-ping, no reset on return.

    Each read then costs one round trip instead of four (ping, BEGIN, query,
    ROLLBACK). A connection that died is invalidated and `Prepared` retries once.
    """
    if url.startswith("sqlite"):
        engine = create_engine(url, isolation_level="AUTOCOMMIT", pool_reset_on_return=None,
                               connect_args={"timeout": 30, "check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, isolation_level="AUTOCOMMIT", pool_reset_on_return=None,
                         pool_size=5, max_overflow=10)


def _database_error(exc: DBAPIError | PoolTimeout) -> Response:
    """SQLAlchemy's errors as the API's: 503 for an outage, 422 for an unstorable value, else 500.

    Never the database's text. Registered for the SQLAlchemy classes only, so
    `errors` stays free of SQLAlchemy (authapi.resource imports it alone).
    """
    if isinstance(exc, DataError):
        # A value the database refuses to hold (a NUL byte in PostgreSQL text): the input's
        # fault, so 422.
        return render(ValidationError("A field holds a value that cannot be stored."))
    if isinstance(exc, PoolTimeout) or exc.connection_invalidated or service_failed(
            cast(BaseException, exc.orig)):
        log.warning("database unavailable: %s", type(exc).__name__)
        return render(Unavailable())
    log.exception("database error")  # the statement failed, not the database: a bug
    return render(InternalError())


def make_disposable_engine(url: str) -> Engine:
    """An engine for one-off work (CLI, migrations) that holds no pooled connections."""
    engine = create_engine(url, poolclass=NullPool)
    if url.startswith("sqlite"):
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def init_app(app: Flask) -> None:
    """Create the app's engines and session factory; close sessions; render database errors."""
    engine = make_engine(database_url(app))
    app.extensions["authapi.engine"] = engine
    app.extensions["authapi.read_engine"] = make_read_engine(database_url(app))
    app.extensions["authapi.sessionmaker"] = sessionmaker(engine, expire_on_commit=False)
    app.teardown_appcontext(_close_session)
    for error in (OperationalError, InterfaceError, PoolTimeout, DataError):
        app.register_error_handler(error, _database_error)


def dispose(app: Flask) -> None:
    """Close every pooled connection of the app (before a fork, or at the end of a test)."""
    for name in ("authapi.engine", "authapi.read_engine"):
        app.extensions[name].dispose()


def engine() -> Engine:
    """The current app's engine (also for work on its own short transactions)."""
    return cast(Engine, context.app().extensions["authapi.engine"])


def orm() -> OrmSession:
    """The ORM session of the current app context (its one transaction), opened on first use."""
    globals_ = context.g()
    session = globals_.get("db_session")
    if session is None:
        session = globals_.db_session = context.app().extensions["authapi.sessionmaker"]()
    return cast(OrmSession, session)


def commit() -> None:
    """Commit the request's transaction if it opened one: a request that wrote through
    `Prepared` alone (a refresh on PostgreSQL, a client-credentials token) or read only
    (introspection) makes no ORM session just to commit nothing (about 0.1 ms)."""
    session = context.g().get("db_session")
    if session is not None:
        session.commit()


def in_transaction() -> bool:
    """Whether the request's ORM session has begun a transaction (asking opens none)."""
    session = context.g().get("db_session")
    return session is not None and session.in_transaction()


def affected(statement: Executable) -> int:
    """Execute an UPDATE or DELETE in the current transaction; return how many rows it hit."""
    result = orm().execute(statement.execution_options(synchronize_session=False))
    return int(cast(CursorResult[Any], result).rowcount)


def _close_session(_exc: BaseException | None) -> None:
    db_session = context.g().pop("db_session", None)
    if db_session is None:
        return
    try:
        db_session.close()  # rolls back anything not committed
    except SQLAlchemyError as exc:
        # The server ended the connection mid-request (a restart, a failover): the
        # rollback cannot reach it. The answer was already decided (a 503 if the request
        # needed the database); the connection is dropped, never pooled again.
        log.warning("database session not closed cleanly: %s", type(exc).__name__)
        db_session.invalidate()


def upsert(engine: Engine, table: Table) -> Any:
    """An INSERT with the dialect's ON CONFLICT clauses (PostgreSQL and SQLite)."""
    from sqlalchemy.dialects import postgresql, sqlite

    return {"postgresql": postgresql.insert, "sqlite": sqlite.insert}[engine.dialect.name](table)
