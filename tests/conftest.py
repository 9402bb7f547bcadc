"""Fixtures: a fresh database per test, on SQLite or, when asked, on PostgreSQL.

AUTHAPI_TEST_DATABASE_URL (read only here) points the suite at a PostgreSQL server,
for example postgresql+psycopg://postgres@127.0.0.1:5432/postgres. Each xdist worker
gets its own database on it; tables are truncated between tests.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from authapi import bootstrap, create_app, db
from authapi.db import Model

PG_URL = os.environ.get("AUTHAPI_TEST_DATABASE_URL", "")
PASSWORD = "correct horse battery staple"
_counter = itertools.count()
SEEDED = ("roles", "signing_keys")


def pytest_report_header() -> str:
    return f"authapi database: {'postgresql' if PG_URL else 'sqlite'}"


@contextmanager
def scratch_pg_database(prefix: str) -> Iterator[str]:
    """A new, empty PostgreSQL database, dropped afterwards; unique to this process."""
    name = f"{prefix}_{os.getpid()}_{next(_counter)}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def pg_database(worker_id: str) -> Iterator[str]:
    """A PostgreSQL database for this xdist worker, with the schema created once."""
    if not PG_URL:
        yield ""
        return
    with scratch_pg_database(f"authapi_test_{worker_id}") as url:
        engine = create_engine(url)
        Model.metadata.create_all(engine)
        engine.dispose()
        yield url


def _bootstrapped(url: str, instance: Path) -> None:
    app = create_app({"AUTHAPI_DATABASE_URL": url, "AUTHAPI_INSTANCE_PATH": str(instance)})
    bootstrap.run(app)
    db.dispose(app)


@pytest.fixture(scope="session")
def template(pg_database: str, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Built once per worker: the schema, the built-in roles and an RS256 signing key.

    On SQLite it is a file each test copies (DDL costs a sync per statement); on
    PostgreSQL it is the rows each test puts back after truncating. Either way no
    test pays for schema creation or RSA key generation it does not ask for.
    """
    folder = tmp_path_factory.mktemp("template")
    if not pg_database:
        path = folder / "authapi.db"
        engine = create_engine(f"sqlite:///{path}")
        Model.metadata.create_all(engine)
        engine.dispose()
        _bootstrapped(f"sqlite:///{path}", folder)
        return path
    _bootstrapped(pg_database, folder)
    engine = create_engine(pg_database)
    with engine.connect() as conn:
        rows = {table: [dict(r._mapping) for r in conn.execute(Model.metadata.tables[table]
                                                                .select())]
                for table in SEEDED}
    engine.dispose()
    return rows


@pytest.fixture
def database_url(pg_database: str, template: Any, tmp_path: Path) -> str:
    """A database in its just-bootstrapped state."""
    if not pg_database:
        shutil.copyfile(template, tmp_path / "authapi.db")
        return f"sqlite:///{tmp_path / 'authapi.db'}"
    engine = create_engine(pg_database)
    tables = ", ".join(f'"{t.name}"' for t in Model.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        for table in SEEDED:
            conn.execute(Model.metadata.tables[table].insert(), template[table])
        conn.execute(text("SELECT setval(pg_get_serial_sequence('roles', 'id'), "
                          "(SELECT max(id) FROM roles))"))
    engine.dispose()
    return pg_database


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> dict[str, Any]:
    """Overrides for create_app: the test database, cheap hashing, a private instance folder."""
    return {
        "AUTHAPI_ENV": "testing",
        "AUTHAPI_DATABASE_URL": database_url,
        "AUTHAPI_BCRYPT_ROUNDS": 4,
        "AUTHAPI_INSTANCE_PATH": str(tmp_path / "instance"),
    }


@pytest.fixture
def make_app(settings: dict[str, Any]) -> Iterator[Callable[..., Flask]]:
    """Build apps on the test database; extra overrides win over `settings`."""
    apps: list[Flask] = []

    def factory(**overrides: Any) -> Flask:
        app = create_app({**settings, **overrides})
        bootstrap.run(app)
        apps.append(app)
        return app

    yield factory
    for app in apps:
        db.dispose(app)


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    """The app under test."""
    return make_app()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client of `app`."""
    return app.test_client()


@pytest.fixture
def make_user(app: Flask) -> Callable[..., str]:
    """Create a user directly in the database; returns its id."""
    from authapi import accounts

    def factory(email: str | None = None, password: str = PASSWORD,
                roles: tuple[str, ...] = ("user",), **fields: Any) -> str:
        email = email or f"user{next(_counter)}@example.com"
        with app.app_context():
            user = accounts.create(email, password, roles=roles)
            for name, value in fields.items():
                setattr(user, name, value)
            db.session().commit()
            return user.id

    return factory


@pytest.fixture
def login(client: FlaskClient, app: Flask) -> Callable[..., dict[str, Any]]:
    """Log a user in through the API; returns the token response body."""
    from authapi import accounts

    def do_login(user_id_or_email: str, password: str = PASSWORD) -> dict[str, Any]:
        email = user_id_or_email
        if "@" not in email:
            with app.app_context():
                email = accounts.get(user_id_or_email).email
        response = client.post("/auth/login", json={"email": email, "password": password})
        assert response.status_code == 200, response.get_json()
        return response.get_json()  # type: ignore[no-any-return]

    return do_login


PROBLEM = "application/problem+json"
PROBLEM_FIELDS = {"type", "title", "status", "detail", "code"}


def assert_problem(response: Any, status: int, code: str) -> dict[str, Any]:
    """An RFC 9457 problem with the contract's status and `code`; returns the body."""
    body = response.get_json()
    assert response.status_code == status, body
    assert response.content_type == PROBLEM
    assert PROBLEM_FIELDS <= set(body)
    assert body["status"] == status
    assert body["code"] == code
    return body  # type: ignore[no-any-return]


def bearer(token: str) -> dict[str, str]:
    """An Authorization header for a token."""
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def auth_headers(make_user: Callable[..., str], login: Callable[..., dict[str, Any]]
                 ) -> Callable[..., dict[str, str]]:
    """Headers of a freshly logged-in user with the given roles."""

    def factory(roles: tuple[str, ...] = ("user",)) -> dict[str, str]:
        return bearer(login(make_user(roles=roles))["access_token"])

    return factory


# --- Real processes: the `authapi` console script and `authapi serve` ------------------

AUTHAPI = str(Path(sys.executable).parent / "authapi")


@pytest.fixture
def empty_database_url(worker_id: str, tmp_path: Any) -> Iterator[str]:
    """A database with no tables: SQLite in tmp_path, or a throwaway PostgreSQL one."""
    if not PG_URL:
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    with scratch_pg_database(f"authapi_empty_{worker_id}") as url:
        yield url


def _cli_env(tmp_path: Path, variables: dict[str, str | None] | None) -> dict[str, str]:
    """No inherited AUTHAPI_* variables, cheap hashing; a None value unsets a variable."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTHAPI_")}
    env.update(AUTHAPI_BCRYPT_ROUNDS="4", AUTHAPI_INSTANCE_PATH=str(tmp_path / "cli-instance"))
    for name, value in (variables or {}).items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


@pytest.fixture
def cli(tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run the real `authapi` command; `env` adds (or, with None, removes) variables."""

    def run(*args: str, env: dict[str, str | None] | None = None,
            stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(  # noqa: S603
            [AUTHAPI, *args], env=_cli_env(tmp_path, env), input=stdin, text=True,
            capture_output=True, cwd=tmp_path, timeout=120, check=False)

    return run


class LiveServer:
    """A running `authapi serve`, spoken to over real HTTP."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url

    def request(self, method: str, path: str, body: dict[str, Any] | None = None,
                token: str | None = None) -> tuple[int, dict[str, Any]]:
        """(status, JSON body or {}) of one request."""
        headers = {"Content-Type": "application/json"} if body is not None else {}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(  # noqa: S310  (always http://127.0.0.1)
            self.base_url + path, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(req, timeout=10) as response:  # noqa: S310
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as exc:
            status, raw = exc.code, exc.read()
            exc.close()
        return status, json.loads(raw) if raw else {}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _stop(proc: subprocess.Popen[bytes]) -> None:
    for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
        if proc.poll() is not None:
            return
        os.killpg(proc.pid, sig)  # the process group this fixture started
        try:
            proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., LiveServer]]:
    """Start `authapi serve` (own process group); returns once GET /healthz answers 200."""
    started: list[tuple[subprocess.Popen[bytes], Any]] = []

    def start(*args: str, env: dict[str, str | None] | None = None,
              cwd: Path | None = None) -> LiveServer:
        port = _free_port()
        log_path = tmp_path / f"serve-{port}.log"
        log = log_path.open("wb")
        proc = subprocess.Popen(  # noqa: S603
            [AUTHAPI, "serve", "--port", str(port), *args], env=_cli_env(tmp_path, env),
            cwd=cwd or tmp_path, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        started.append((proc, log))
        server = LiveServer(f"http://127.0.0.1:{port}")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if server.request("GET", "/healthz")[0] == 200:
                    return server
            except OSError:
                pass
            time.sleep(0.1)
        pytest.fail(f"authapi serve did not answer /healthz:\n{log_path.read_text()}")

    yield start
    for proc, log in started:
        _stop(proc)
        log.close()
