"""The one raw-DBAPI executor: Core statements checked when built, run on a plain cursor.

See `Prepared`. `db` re-exports `Prepared` and `Read`; nothing else runs raw SQL.
"""

from __future__ import annotations

import re
import sqlite3
from typing import Any, cast

from sqlalchemy.dialects.postgresql import psycopg
from sqlalchemy.dialects.sqlite import pysqlite
from sqlalchemy.engine import Connection, Dialect, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import Select
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.dml import UpdateBase
from sqlalchemy.sql.expression import ReturnsRows

from authapi import context
from authapi.errors import Unavailable

# The dialects every Prepared statement is compiled and checked for when it is built.
DIALECTS: tuple[Dialect, ...] = (pysqlite.dialect(), psycopg.dialect())
PYFORMAT = re.compile(r"%\((\w+)\)s")
# SQLite result codes of the database's state, not the statement's: BUSY, LOCKED, NOMEM,
# READONLY, IOERR, FULL, CANTOPEN, PROTOCOL.
SQLITE_OUTAGES = frozenset({5, 6, 7, 8, 10, 13, 14, 15})
# (SQL, parameter order when positional, bind processors, result processors)
Plan = tuple[str, tuple[str, ...] | None, dict[str, Any], list[Any]]



class Prepared:
    """A Core statement run on a raw DBAPI cursor of the read engine: the one raw executor.

    For the per-request statements: SQLAlchemy's execution context costs about as much
    as the round trip itself (bench/micro.py: 163 µs against 45 µs for one PostgreSQL
    read; bench/dpop.py: 381 µs against 162 µs for the replay INSERT on SQLite). The
    statement is an ordinary Core construct, compiled and checked for SQLite and
    PostgreSQL when this object is built (at import): a request only binds, executes
    and fetches. Values pass through each column type's bind and result processors, so
    UTC, JSON and booleans follow the same rules as the ORM.

    Only what runs unchanged on a plain cursor is accepted: every value a named
    `bindparam(name)` without a value. An expanding `IN`, a literal-execute parameter
    or a Python literal in the statement is refused here with a TypeError.
    """

    def __init__(self, statement: Select[*tuple[Any, ...]] | UpdateBase,
                 dialects: tuple[Dialect, ...] = DIALECTS) -> None:
        self.statement = statement
        self._plans: dict[type[Dialect], Plan] = {}
        for dialect in dialects:  # one that only some databases run (a DML CTE) names them
            self._plan(dialect)

    def _plan(self, dialect: Dialect) -> Plan:
        compiled = cast(SQLCompiler, self.statement.compile(dialect=dialect))
        names = dict(compiled.bind_names)
        reason = _unrunnable(compiled, dialect, set(names.values()))
        if reason:
            raise TypeError(f"db.Prepared cannot run this statement on {dialect.name}: "
                            f"{reason}. The statement: {compiled.string}")
        order = tuple(compiled.positiontup or ()) if dialect.positional else None
        to_db = {name: process for bind, name in names.items()
                 if (process := bind.type.dialect_impl(dialect).bind_processor(dialect))}
        columns = (self.statement.exported_columns
                   if isinstance(self.statement, ReturnsRows) else ())
        from_db = [_result_processor(column.type, dialect) for column in columns]
        plan = self._plans[type(dialect)] = (compiled.string, order, to_db, from_db)
        return plan

    def rows(self, params: dict[str, Any], *, engine: Engine | None = None,
             retry: bool = True) -> list[tuple[Any, ...]]:
        """Every row for these bound parameters (a SELECT, or DML with RETURNING).

        A write that must not run twice passes `retry=False`: a connection lost after
        the statement was sent may have committed it, so it answers 503 instead.
        """
        engine = engine or context.app().extensions["authapi.read_engine"]
        plan = self._plans.get(type(engine.dialect)) or self._plan(engine.dialect)
        from_db = plan[3]
        return [tuple(value if process is None else process(value)
                      for process, value in zip(from_db, row, strict=True))
                for row in _execute(engine, plan, params, fetch=True, retry=retry)]

    def within(self, connection: Connection, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        """Run in `connection`'s transaction (the request's ORM session): its rows, if any.

        For the writes of a hot path that must commit or roll back together (a refresh's
        rotation, audit and grace). A failure is raised as SQLAlchemy's DBAPIError, so
        the request's error handler tells an outage (503) from a bug (500) as for the ORM.
        """
        dialect = connection.dialect
        plan = self._plans.get(type(dialect)) or self._plan(dialect)
        sql, order, to_db, from_db = plan
        bound = _bind(plan, params)
        dbapi_connection = connection.connection.dbapi_connection
        try:
            cursor = dbapi_connection.cursor()  # type: ignore[union-attr]
            try:
                cursor.execute(sql, bound)
                fetched = cursor.fetchall() if from_db else []
            finally:
                cursor.close()
        except dialect.loaded_dbapi.Error as exc:
            disconnected = dialect.is_disconnect(exc, dbapi_connection, None)
            if disconnected:
                connection.invalidate(exc)
            raise DBAPIError.instance(sql, bound, exc, dialect.loaded_dbapi.Error,
                                      connection_invalidated=disconnected) from exc
        return [tuple(value if process is None else process(value)
                      for process, value in zip(from_db, row, strict=True))
                for row in fetched]

    def run(self, params: dict[str, Any], *, engine: Engine | None = None,
            retry: bool = True) -> int:
        """Execute for these bound parameters (autocommit); return the row count."""
        engine = engine or context.app().extensions["authapi.read_engine"]
        plan = self._plans.get(type(engine.dialect)) or self._plan(engine.dialect)
        return cast(int, _execute(engine, plan, params, fetch=False, retry=retry))


class Read(Prepared):
    """A SELECT built from the models, for the per-request reads (see `Prepared`)."""

    def __init__(self, statement: Select[*tuple[Any, ...]]) -> None:
        super().__init__(statement)


def _unrunnable(compiled: SQLCompiler, dialect: Dialect, names: set[str]) -> str | None:
    """Why a plain cursor could not run this compiled statement as it is, if it could not."""
    sql = compiled.string
    if "__[POSTCOMPILE_" in sql or compiled.literal_execute_params:
        return ("an expanding IN or a literal-execute parameter is rendered anew for each "
                "call; compare with one bindparam per value, or use the ORM session")
    valued = sorted(name for bind, name in compiled.bind_names.items() if not bind.required)
    if valued:
        return (f"parameter(s) {', '.join(valued)} carry a value (a Python literal, a "
                "limit or offset): write bindparam(name) and pass the value per call")
    if dialect.paramstyle == "qmark":
        placed = sql.count("?")
        expected = len(compiled.positiontup or ())
        if placed != expected or set(compiled.positiontup or ()) != names:
            return (f"{placed} placeholders for {expected} parameters: a literal `?` or an "
                    "inline value would shift every parameter after it")
    elif dialect.paramstyle == "pyformat" and set(PYFORMAT.findall(sql)) != names:
        return f"the placeholders {sorted(set(PYFORMAT.findall(sql)))} are not {sorted(names)}"
    return None


def _execute(engine: Engine, plan: Plan, params: dict[str, Any], *, fetch: bool,
             retry: bool = True) -> Any:
    """Run a plan on a pooled raw connection: its rows, or its row count.

    A connection that cannot be had, or died in the pool and fails again on a fresh
    one, is the service's failure: 503 (Unavailable). Anything else is the statement's
    and is raised as the driver raised it (a bug: 500), never as an outage.
    """
    sql = plan[0]
    bound = _bind(plan, params)
    dbapi = engine.dialect.loaded_dbapi
    for attempt in (1, 2):
        try:
            conn = engine.raw_connection()  # the pool raises the driver's own error
        except dbapi.Error as exc:
            if _outage(exc, dbapi):
                raise Unavailable() from None
            raise
        try:
            cursor = conn.cursor()
            try:
                cursor.execute(sql, bound)
                return cursor.fetchall() if fetch else cursor.rowcount
            finally:
                cursor.close()
        except dbapi.Error as exc:
            if engine.dialect.is_disconnect(exc, conn.dbapi_connection, None):
                conn.invalidate()  # a pooled connection that died: one retry on a new one
                if attempt == 2 or not retry:
                    raise Unavailable() from None
                continue
            if _outage(exc, dbapi):
                raise Unavailable() from None
            raise
        finally:
            conn.close()
    raise AssertionError("unreachable")


def _result_processor(type_: Any, dialect: Dialect) -> Any:
    try:
        return type_.dialect_impl(dialect).result_processor(dialect, None)
    except TypeError:  # a numeric type on psycopg wants the driver's type code: values
        return None    # arrive as the driver made them (float or Decimal)


def _bind(plan: Plan, params: dict[str, Any]) -> Any:
    """The parameters as the driver takes them: processed, and in order when positional."""
    sql, order, to_db, _ = plan
    if to_db:
        params = {name: value if (process := to_db.get(name)) is None else process(value)
                  for name, value in params.items()}
    try:
        return params if order is None else tuple(params[name] for name in order)
    except KeyError as exc:
        raise TypeError(f"missing parameter {exc} for: {sql}") from None


def _outage(error: BaseException, dbapi: Any) -> bool:
    return isinstance(error, dbapi.OperationalError | dbapi.InterfaceError) and service_failed(
        error)


def service_failed(error: BaseException) -> bool:
    """Whether a DBAPI OperationalError or InterfaceError is the service's state, not the SQL's.

    PEP 249 keeps these two for failures of the database or of the way to it, and
    psycopg follows it (bad SQL is a ProgrammingError). sqlite3 raises OperationalError
    for bad SQL too ("no such column", a syntax error: SQLITE_ERROR); there only the
    result codes of a busy, locked, unopenable, full or failing database count.
    """
    if isinstance(error, sqlite3.Error):
        return (getattr(error, "sqlite_errorcode", 0) & 0xFF) in SQLITE_OUTAGES
    return True
