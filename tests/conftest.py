"""Shared fixtures: the app on a fresh database, a client, users, logins, problem checks.

Databases, the CLI and live servers live in tests/fixtures/ (loaded below).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from authapi import bootstrap, create_app, db
from authapi.mail import outbox

pytest_plugins = [
    "fixtures.databases", "fixtures.cli", "fixtures.servers", "fixtures.oauth", "fixtures.smtp",
    "fixtures.private_servers",
]

PASSWORD = "correct horse battery staple"
PROBLEM = "application/problem+json"
PROBLEM_FIELDS = {"type", "title", "status", "detail", "code"}
_counter = itertools.count()


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> dict[str, Any]:
    """Overrides for create_app: the test database, cheap hashing, a private instance folder."""
    return {
        "AUTHAPI_ENV": "testing",
        "AUTHAPI_DATABASE_URL": database_url,
        "AUTHAPI_BCRYPT_ROUNDS": 4,
        "AUTHAPI_INSTANCE_PATH": str(tmp_path / "instance"),
        "AUTHAPI_MAIL_WORKER": False,  # tests that send mail turn it on (tests/fixtures/smtp.py)
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
        outbox.worker(app).stop()
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
    from authapi.accounts import accounts

    def factory(email: str | None = None, password: str = PASSWORD,
                roles: tuple[str, ...] = ("user",), **fields: Any) -> str:
        email = email or f"user{next(_counter)}@example.com"
        with app.app_context():
            user = accounts.create(email, password, roles=roles)
            for name, value in fields.items():
                setattr(user, name, value)
            db.orm().commit()
            return user.id

    return factory


@pytest.fixture
def login(client: FlaskClient, app: Flask) -> Callable[..., dict[str, Any]]:
    """Log a user in through the API; returns the token response body."""
    from authapi.accounts import users

    def do_login(user_id_or_email: str, password: str = PASSWORD) -> dict[str, Any]:
        email = user_id_or_email
        if "@" not in email:
            with app.app_context():
                email = users.get(user_id_or_email).email
        response = client.post("/auth/login", json={"email": email, "password": password})
        assert response.status_code == 200, response.get_json()
        return response.get_json()  # type: ignore[no-any-return]

    return do_login



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


