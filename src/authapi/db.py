"""Database plumbing: the model base, one engine per app, one session per app context."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from flask import Flask, current_app, g
from sqlalchemy import MetaData, Table, create_engine, event
from sqlalchemy.engine import CursorResult, Dialect, Engine
from sqlalchemy.orm import DeclarativeBase, sessionmaker
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.pool import NullPool
from sqlalchemy.sql import Executable, Select

from .errors import Unavailable

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
    ROLLBACK). A connection that died is invalidated and `Read` retries once.
    """
    if url.startswith("sqlite"):
        engine = create_engine(url, isolation_level="AUTOCOMMIT",
                               connect_args={"timeout": 30, "check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, isolation_level="AUTOCOMMIT", pool_reset_on_return=None,
                         pool_size=5, max_overflow=10)


class Read:
    """A SELECT built from the models, run on the read engine's raw DBAPI cursor.

    For the per-request reads: SQLAlchemy's execution context costs about as much as
    the round trip itself (bench/micro.py: 163 µs against 45 µs for one PostgreSQL
    read). The statement is still an ordinary Core `select()`: it is compiled once
    per dialect, and each column comes back through its own type's result
    processor, so UTC, JSON and booleans follow the same rules as the ORM.
    """

    def __init__(self, statement: Select[*tuple[Any, ...]]) -> None:
        self.statement = statement
        self._compiled: dict[str, tuple[str, tuple[str, ...] | None, list[Any]]] = {}

    def _compile(self, dialect: Dialect) -> tuple[str, tuple[str, ...] | None, list[Any]]:
        compiled = self.statement.compile(dialect=dialect)
        order = tuple(compiled.positiontup or ()) if dialect.paramstyle in (
            "qmark", "numeric", "format") else None
        processors = [column.type.dialect_impl(dialect).result_processor(dialect, None)
                      for column in self.statement.selected_columns]
        entry = (compiled.string, order, processors)
        self._compiled[dialect.name] = entry
        return entry

    def rows(self, params: dict[str, Any], *,
             engine: Engine | None = None) -> list[tuple[Any, ...]]:
        """Every row for these bound parameters; a dead pooled connection is retried once."""
        engine = engine or current_app.extensions["authapi.read_engine"]
        dialect = engine.dialect
        sql, order, processors = self._compiled.get(dialect.name) or self._compile(dialect)
        bound: Any = params if order is None else tuple(params[name] for name in order)
        raw = _fetch(engine, sql, bound)
        return [tuple(value if process is None else process(value)
                      for process, value in zip(processors, row, strict=True)) for row in raw]


def _fetch(engine: Engine, sql: str, bound: Any) -> list[Any]:
    dbapi = engine.dialect.loaded_dbapi
    for attempt in (1, 2):
        try:
            conn = engine.raw_connection()  # the pool raises the driver's own error
        except (dbapi.OperationalError, dbapi.InterfaceError):
            raise Unavailable() from None
        try:
            cursor = conn.cursor()
            try:
                cursor.execute(sql, bound)
                return list(cursor.fetchall())
            finally:
                cursor.close()
        except dbapi.Error as exc:
            if not engine.dialect.is_disconnect(exc, conn.dbapi_connection, None):
                if isinstance(exc, dbapi.OperationalError | dbapi.InterfaceError):
                    raise Unavailable() from None  # the server, not the query, failed
                raise
            conn.invalidate()
            if attempt == 2:
                raise Unavailable() from None
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
    """The current app's engine (also for work on its own short transactions)."""
    return cast(Engine, current_app.extensions["authapi.engine"])


def orm() -> OrmSession:
    """The ORM session of the current app context (its one transaction), opened on first use."""
    if "db_session" not in g:
        g.db_session = current_app.extensions["authapi.sessionmaker"]()
    return g.db_session


def affected(statement: Executable) -> int:
    """Execute an UPDATE or DELETE in the current transaction; return how many rows it hit."""
    result = orm().execute(statement.execution_options(synchronize_session=False))
    return int(cast(CursorResult[Any], result).rowcount)


def _close_session(_exc: BaseException | None) -> None:
    db_session = g.pop("db_session", None)
    if db_session is not None:
        db_session.close()  # rolls back anything not committed


def upsert(engine: Engine, table: Table) -> Any:
    """An INSERT with the dialect's ON CONFLICT clauses (PostgreSQL and SQLite)."""
    from sqlalchemy.dialects import postgresql, sqlite

    return {"postgresql": postgresql.insert, "sqlite": sqlite.insert}[engine.dialect.name](table)
