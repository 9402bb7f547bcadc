"""db.Prepared, the one raw-cursor executor, and how database errors become problems.

A statement a plain cursor cannot run is refused when it is built; a statement that
fails is the statement's bug (500), and only a database that cannot be reached is 503.
"""

from __future__ import annotations

import ast
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import (
    Column,
    Integer,
    MetaData,
    Table,
    bindparam,
    delete,
    literal,
    literal_column,
    select,
    text,
)
from sqlalchemy.exc import OperationalError

from authapi import db, errors
from authapi.errors import Unavailable
from authapi.models import DpopProof, User
from conftest import assert_problem

NOWHERE = Table("nowhere", MetaData(), Column("id", Integer))


@pytest.mark.parametrize("where", [
    User.id.in_(["a", "b"]),
    User.id.in_(bindparam("ids", expanding=True)),
    User.id == literal("a", literal_execute=True),
], ids=["in-list", "expanding-bindparam", "literal-execute"])
def test_a_statement_rendered_per_call_is_refused_when_built(where):
    with pytest.raises(TypeError, match="expanding IN or a literal-execute"):
        db.Prepared(select(User.id).where(where))


@pytest.mark.parametrize("statement", [
    select(User.id).where(User.email == "a@example.com"),
    select(User.id).where(User.id == bindparam("id")).limit(1),
    select(User.id).where(User.id == bindparam("id", value="x")),
], ids=["python-literal", "limit", "bindparam-with-value"])
def test_a_value_baked_into_the_statement_is_refused_when_built(statement):
    with pytest.raises(TypeError, match="carry a value"):
        db.Prepared(statement)


def test_a_literal_question_mark_that_shifts_the_parameters_is_refused():
    statement = select(User.id).where(User.email == literal_column("'?'"),
                                      User.id == bindparam("id"))
    with pytest.raises(TypeError, match="placeholders"):
        db.Prepared(statement)


def test_typed_rows_come_back_through_the_column_types(app, make_user):
    user_id = make_user(email="typed@example.com")
    read = db.Read(select(User.email, User.created_at, User.disabled)
                   .where(User.id == bindparam("id")))
    with app.app_context():
        [(email, created_at, disabled)] = read.rows({"id": user_id})
    assert email == "typed@example.com"
    assert created_at.tzinfo is UTC  # UTCDateTime's result processor ran
    assert disabled is False  # a bool, not SQLite's 0


def test_values_go_through_the_bind_processors_and_run_counts_rows(app):
    expires = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=5)
    insert = db.Prepared(DpopProof.__table__.insert().values(key=bindparam("key"),
                                                             expires_at=bindparam("at")))
    gone = db.Prepared(delete(DpopProof).where(DpopProof.expires_at == bindparam("at")))
    read = db.Read(select(DpopProof.expires_at).where(DpopProof.key == bindparam("key")))
    with app.app_context():
        assert insert.run({"key": "k1", "at": expires}) == 1
        assert read.rows({"key": "k1"}) == [(expires,)]
        # stored as the ORM stores it: SQLAlchemy's own bound value finds the row
        assert db.orm().scalar(select(DpopProof.key).where(DpopProof.expires_at == expires)
                               ) == "k1"
        assert gone.run({"at": expires}) == 1


def test_a_missing_parameter_is_an_error_naming_it_not_unavailable(app):
    read = db.Read(select(User.id).where(User.id == bindparam("user_id")))
    driver_error = app.extensions["authapi.read_engine"].dialect.loaded_dbapi.Error
    with app.app_context(), pytest.raises((TypeError, driver_error), match="user_id"):
        read.rows({})


def test_wrong_sql_raises_the_drivers_error_not_unavailable(app):
    read = db.Read(select(NOWHERE.c.id).where(NOWHERE.c.id == bindparam("id")))
    engine = app.extensions["authapi.read_engine"]
    with app.app_context(), pytest.raises(engine.dialect.loaded_dbapi.Error, match="nowhere"):
        read.rows({"id": 1})


@pytest.mark.parametrize("url", [
    "postgresql+psycopg://postgres@127.0.0.1:1/x",
    "sqlite:////nonexistent-authapi-folder/sub/authapi.db",
], ids=["closed-port", "missing-folder"])
def test_a_database_that_cannot_be_reached_is_unavailable(url):
    engine = db.make_read_engine(url)
    read = db.Read(select(User.id).where(User.id == bindparam("id")))
    try:
        with pytest.raises(Unavailable):
            read.rows({"id": "x"}, engine=engine)
    finally:
        engine.dispose()


def test_a_pooled_connection_that_died_is_replaced_once(app, make_user):
    engine = app.extensions["authapi.read_engine"]
    if engine.dialect.name != "postgresql":
        pytest.skip("needs a server that can end a session")
    user_id = make_user()
    read = db.Read(select(User.id).where(User.id == bindparam("id")))
    with app.app_context():
        assert read.rows({"id": user_id}) == [(user_id,)]  # one connection now in the pool
        with db.engine().connect() as admin:
            ended = admin.execute(text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                "AND application_name = ''")).scalar()
        assert ended
        assert read.rows({"id": user_id}) == [(user_id,)]


def _boom(app, error):
    def fail():
        raise error

    app.add_url_rule("/boom", view_func=fail)
    return app.test_client().get("/boom")


def test_a_broken_statement_through_the_orm_is_a_500_not_a_503(app):
    def fail():
        db.orm().execute(select(NOWHERE.c.id))

    app.add_url_rule("/boom", view_func=fail)
    body = assert_problem(app.test_client().get("/boom"), 500, "internal_error")
    assert "nowhere" not in str(body)


def test_a_broken_raw_read_is_a_500_not_a_503(app):
    read = db.Read(select(NOWHERE.c.id).where(NOWHERE.c.id == bindparam("id")))
    app.add_url_rule("/boom", view_func=lambda: str(read.rows({"id": 1})))
    assert_problem(app.test_client().get("/boom"), 500, "internal_error")


def _locked(tmp_path: Path) -> None:
    holder = sqlite3.connect(tmp_path / "locked.db", isolation_level=None)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        sqlite3.connect(tmp_path / "locked.db", timeout=0).execute("SELECT x FROM t")
    finally:
        holder.close()


SQLITE_FAILURES = {
    "locked": _locked,
    "unable-to-open": lambda tmp_path: sqlite3.connect(tmp_path / "missing" / "x.db"),
    "no-such-column": lambda _: sqlite3.connect(":memory:").execute("SELECT nope"),
}


@pytest.mark.parametrize(("case", "status", "code"), [
    ("locked", 503, "service_unavailable"),
    ("unable-to-open", 503, "service_unavailable"),
    ("no-such-column", 500, "internal_error"),
])
def test_sqlite_operational_errors_are_503_only_for_the_database_state(
        make_app, tmp_path, case, status, code):
    with pytest.raises(sqlite3.OperationalError) as caught:  # a real error, with its code
        SQLITE_FAILURES[case](tmp_path)
    orig = caught.value
    response = _boom(make_app(), OperationalError("SELECT", {}, orig))
    body = assert_problem(response, status, code)
    assert str(orig) not in str(body)


def test_an_invalidated_connection_is_503(make_app):
    error = OperationalError("SELECT", {}, sqlite3.ProgrammingError("closed"),
                             connection_invalidated=True)
    assert_problem(_boom(make_app(), error), 503, "service_unavailable")


def test_errors_does_not_import_sqlalchemy():
    tree = ast.parse(Path(errors.__file__).read_text())
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert not {name for name in imported if name.split(".")[0] == "sqlalchemy"}
