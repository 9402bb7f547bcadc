"""Mass assignment, account enumeration and CSRF, each as a parametrized matrix."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from authapi import db
from authapi.models import User
from conftest import PASSWORD, assert_problem, bearer

PRIVILEGED_FIELDS = {
    "roles": ["admin"], "role": "admin", "id": "00000000-0000-0000-0000-000000000000",
    "email_verified": True, "mfa_enabled": True, "disabled": False, "is_admin": True,
    "password_hash": "$2b$04$abcdefghijklmnopqrstuv", "created_at": "2000-01-01T00:00:00Z",
    "scope": "users:write", "permissions": ["users:write"], "__class__": "User",
}


def user_count(app) -> int:
    with app.app_context():
        return int(db.orm().scalar(select(func.count()).select_from(User)) or 0)


@pytest.mark.parametrize("field", PRIVILEGED_FIELDS)
def test_register_with_a_privileged_field_creates_nobody(app, client, field):
    body = {"email": "m@example.com", "password": PASSWORD, field: PRIVILEGED_FIELDS[field]}
    assert_problem(client.post("/auth/register", json=body), 422, "validation_error")
    assert user_count(app) == 0


VALID_BODIES = {
    "/auth/login": {"email": "m@example.com", "password": PASSWORD},
    "/auth/password": {"current_password": PASSWORD, "new_password": PASSWORD + "!"},
}


@pytest.mark.parametrize("field", PRIVILEGED_FIELDS)
@pytest.mark.parametrize("path", VALID_BODIES)
def test_other_bodies_refuse_privileged_fields(client, make_user, login, path, field):
    headers = bearer(login(make_user(email="m@example.com"))["access_token"])
    body = {**VALID_BODIES[path], field: PRIVILEGED_FIELDS[field]}
    assert_problem(client.post(path, json=body, headers=headers), 422, "validation_error")
    assert client.post(path, json=VALID_BODIES[path], headers=headers).status_code in (200, 204)


def comparable(response) -> tuple:
    """Everything a client sees of an answer, minus what differs per request anyway."""
    per_request = ("Date", "Content-Length", "X-Request-ID")
    headers = {k: v for k, v in response.headers.items() if k not in per_request}
    return response.status_code, headers, response.get_json()


@pytest.mark.parametrize("email", ["known@example.com", "KNOWN@example.com",
                                   "\uff4b\uff4e\uff4f\uff57\uff4e@example.com"])
@pytest.mark.parametrize("password", ["wrong password, again", "", "x" * 2000])
def test_wrong_password_and_unknown_email_look_alike(client, make_user, email, password):
    make_user(email="known@example.com")
    known = client.post("/auth/login", json={"email": email, "password": password})
    unknown = client.post("/auth/login", json={"email": "nobody@example.com",
                                               "password": password})
    assert comparable(known) == comparable(unknown)


def cookie_session(client, make_user) -> str:
    make_user(email="c@example.com")
    client.post("/auth/login", json={"email": "c@example.com", "password": PASSWORD,
                                     "use_cookies": True})
    return client.get_cookie("csrf_refresh_token").value  # type: ignore[union-attr]


CSRF_HEADERS = {
    "missing": lambda csrf: {},
    "empty": lambda csrf: {"X-CSRF-TOKEN": ""},
    "wrong": lambda csrf: {"X-CSRF-TOKEN": "not-the-value"},
    "truncated": lambda csrf: {"X-CSRF-TOKEN": csrf[:-1]},
    "case_changed": lambda csrf: {"X-CSRF-TOKEN": csrf.swapcase()},
    "in_a_cookie_only": lambda csrf: {"Cookie": f"X-CSRF-TOKEN={csrf}"},
}


@pytest.mark.parametrize("header", CSRF_HEADERS)
@pytest.mark.parametrize("path", ["/auth/refresh", "/auth/logout"])
def test_cookie_requests_without_the_csrf_value_are_refused(client, make_user, path, header):
    csrf = cookie_session(client, make_user)
    response = client.post(path, headers=CSRF_HEADERS[header](csrf))
    assert_problem(response, 401, "csrf_failed")


def test_a_refused_csrf_request_did_not_consume_the_refresh_cookie(client, make_user):
    csrf = cookie_session(client, make_user)
    client.post("/auth/refresh", headers={"X-CSRF-TOKEN": "forged"})
    assert client.post("/auth/refresh", headers={"X-CSRF-TOKEN": csrf}).status_code == 200


def test_a_csrf_value_of_another_session_is_refused(make_app, make_user):
    first, second = make_app().test_client(), make_app().test_client()
    csrf = cookie_session(first, make_user)
    second.post("/auth/login", json={"email": "c@example.com", "password": PASSWORD,
                                     "use_cookies": True})
    assert_problem(second.post("/auth/refresh", headers={"X-CSRF-TOKEN": csrf}),
                   401, "csrf_failed")


def test_an_access_token_is_never_read_from_a_cookie(client, make_user, login):
    token = login(make_user())["access_token"]
    client.set_cookie("access_token_cookie", token)
    assert_problem(client.get("/auth/me"), 401, "token_missing")
    assert client.get("/auth/me", headers=bearer(token)).status_code == 200


@pytest.mark.parametrize(("method", "path", "body"), [
    ("POST", "/auth/login", {"email": "a\u0000b@example.com", "password": PASSWORD}),
    ("POST", "/auth/register", {"email": "a@example.com", "password": PASSWORD,
                                "display_name": "nul\u0000byte"}),
    ("DELETE", "/auth/sessions/a%00b", None),
])
def test_a_nul_byte_is_a_4xx_on_every_database(client, auth_headers, method, path, body):
    response = client.open(path, method=method, json=body, headers=auth_headers())
    assert 400 <= response.status_code < 500, response.get_json()
