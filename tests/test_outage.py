"""Database outage: a private PostgreSQL is stopped under a running app, then started again.

Never the shared server: each module run makes its own cluster with initdb on a free
port, owned by the `postgres` OS user (initdb refuses root).
"""

from __future__ import annotations

import os
import time

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DataError, OperationalError

from conftest import PASSWORD, assert_problem, bearer
from fixtures.private_servers import PG_BINS

pytestmark = pytest.mark.skipif(not PG_BINS, reason="no PostgreSQL server binaries")


@pytest.fixture
def down(private_pg, make_app):
    """An app on the private server, with one token checked (cached) and one not."""
    app = make_app(AUTHAPI_DATABASE_URL=private_pg.url)
    client = app.test_client()
    tokens = []
    for name in ("cached", "uncached"):
        email = f"{name}-{os.urandom(4).hex()}@example.com"
        assert client.post("/auth/register", json={"email": email, "password": PASSWORD}
                           ).status_code == 201
        tokens.append(client.post("/auth/login", json={"email": email, "password": PASSWORD}
                                  ).get_json()["access_token"])
    assert client.get("/auth/check", headers=bearer(tokens[0])).status_code == 200
    private_pg.stop()
    try:
        yield client, private_pg, tokens
    finally:
        private_pg.start()


def assert_unavailable(response) -> None:
    assert_problem(response, 503, "service_unavailable")
    assert int(response.headers["Retry-After"]) > 0
    assert "psycopg" not in response.get_data(as_text=True).lower()


@pytest.mark.parametrize(("method", "path", "body"), [
    ("GET", "/readyz", None),
    ("POST", "/auth/register", {"email": "new@example.com", "password": PASSWORD}),
    ("POST", "/auth/login", {"email": "new@example.com", "password": PASSWORD}),
])
def test_routes_that_need_the_database_answer_503(down, method, path, body):
    client, _, _ = down
    assert_unavailable(client.open(path, method=method, json=body))


def test_me_and_an_uncached_check_answer_503(down):
    client, _, (_, uncached) = down
    assert_unavailable(client.get("/auth/me", headers=bearer(uncached)))
    assert_unavailable(client.get("/auth/check", headers=bearer(uncached)))


def test_check_with_cached_session_state_keeps_answering(down):
    client, _, (cached, _) = down
    for _ in range(3):
        response = client.get("/auth/check", headers=bearer(cached))
        assert response.status_code == 200
        assert response.headers["X-Auth-Roles"] == "user"


def test_cached_answers_stop_after_the_outage_grace(private_pg, make_app):
    app = make_app(AUTHAPI_DATABASE_URL=private_pg.url, AUTHAPI_OUTAGE_GRACE=-1)
    client = app.test_client()
    client.post("/auth/register", json={"email": "g@example.com", "password": PASSWORD})
    token = client.post("/auth/login", json={"email": "g@example.com", "password": PASSWORD}
                        ).get_json()["access_token"]
    private_pg.stop()
    try:
        assert_unavailable(client.get("/auth/check", headers=bearer(token)))
    finally:
        private_pg.start()


def test_the_same_process_recovers_without_a_restart(down):
    client, pg, (_, uncached) = down
    assert_unavailable(client.get("/readyz"))
    pg.start()
    assert client.get("/readyz").status_code == 200
    assert client.get("/auth/me", headers=bearer(uncached)).status_code == 200
    body = {"email": "after@example.com", "password": PASSWORD}
    assert client.post("/auth/register", json=body).status_code == 201
    assert client.post("/auth/login", json=body).status_code == 200


@pytest.mark.parametrize(("error", "status", "code"), [
    (DataError("SELECT 1", {}, Exception("text fields cannot contain NUL")), 422,
     "validation_error"),
    (OperationalError("SELECT 1", {}, Exception("connection refused")), 503,
     "service_unavailable"),
])
def test_database_errors_become_problems_without_driver_text(make_app, error, status, code):
    app = make_app()

    def fail():
        raise error

    app.add_url_rule("/boom", view_func=fail)
    response = app.test_client().get("/boom")
    body = assert_problem(response, status, code)
    assert "SELECT" not in str(body) and "NUL" not in str(body)


def test_a_connection_the_server_closed_is_not_used(private_pg, make_app):
    """Pooled connections the server ended while idle (a restart, a failover, an idle
    timeout) are dropped at checkout (db._closed_by_server): the next write works."""
    app = make_app(AUTHAPI_DATABASE_URL=private_pg.url)
    client = app.test_client()
    body = {"email": f"pool-{os.urandom(4).hex()}@example.com", "password": PASSWORD}
    assert client.post("/auth/register", json=body).status_code == 201
    killer = create_engine(private_pg.url)
    with killer.connect() as conn:
        ended = conn.execute(text(
            "SELECT pid FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()")).scalars().all()
        for pid in ended:
            conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    killer.dispose()
    assert ended  # the app's pooled connections
    # pg_terminate_backend only signals: wait (bounded) until those backends have exited,
    # so their sockets are closed, as after a server restart.
    deadline = time.monotonic() + 10
    while any(os.path.exists(f"/proc/{pid}") for pid in ended):
        assert time.monotonic() < deadline, "the backends did not exit"
        time.sleep(0.01)
    again = {"email": f"pool-{os.urandom(4).hex()}@example.com", "password": PASSWORD}
    assert client.post("/auth/register", json=again).status_code == 201
    assert client.post("/auth/login", json=again).status_code == 200


def test_a_session_whose_rollback_cannot_reach_the_server_ends_the_request_quietly(app):
    """The server ended the connection mid-request: closing the session raises (its
    rollback fails). Teardown logs it and drops the connection instead of turning the
    request's answer into a 500 (found by bench/soak during a PostgreSQL stop)."""
    from flask import g
    from sqlalchemy.exc import OperationalError

    from authapi import db as database

    class Dying:
        invalidated = False

        def close(self):
            raise OperationalError("ROLLBACK", {}, Exception("terminating connection"))

        def invalidate(self):
            self.invalidated = True

    dying = Dying()
    with app.app_context():
        g.db_session = dying
        database._close_session(None)  # must not raise
    assert dying.invalidated
