"""Structured JSON logs with a request id; no password, token or secret ever logged."""

from __future__ import annotations

import json
import re

import pytest

from conftest import PASSWORD, bearer

NEW_PASSWORD = "another long enough passphrase"


def log_lines(capsys) -> list[dict]:
    """The JSON log lines written to stderr so far (every line must be JSON)."""
    return [json.loads(line) for line in capsys.readouterr().err.splitlines() if line]


@pytest.mark.parametrize(("sent", "echoed"), [
    ("req-42.a:b@c", "req-42.a:b@c"),
    (None, None),
    ("{\"forged\": 1}", None),
    ("x" * 129, None),
])
def test_request_id_is_taken_when_plausible_else_generated(client, sent, echoed):
    headers = {"X-Request-ID": sent} if sent is not None else {}
    rid = client.get("/healthz", headers=headers).headers["X-Request-ID"]
    assert rid == echoed if echoed else re.fullmatch(r"[0-9a-f]{32}", rid)


def test_each_request_gets_its_own_generated_id(client):
    ids = {client.get("/healthz").headers["X-Request-ID"] for _ in range(3)}
    assert len(ids) == 3


def test_log_lines_are_json_and_carry_the_request_id(client, make_user, capsys):
    make_user(email="ada@example.com")
    capsys.readouterr()
    client.post("/auth/login", json={"email": "ada@example.com", "password": PASSWORD},
                headers={"X-Request-ID": "trace-1"})
    login = [line for line in log_lines(capsys) if line.get("event") == "login"]
    assert login and login[0]["request_id"] == "trace-1"
    assert {"ts", "level", "logger", "message", "user_id"} <= set(login[0])


def test_access_log_is_off_by_default_and_on_when_asked(make_app, capsys):
    make_app().test_client().get("/healthz")
    assert not [line for line in log_lines(capsys) if line["logger"] == "authapi.access"]
    make_app(AUTHAPI_ACCESS_LOG=1).test_client().get("/healthz")
    access = [line for line in log_lines(capsys) if line["logger"] == "authapi.access"]
    assert access[0]["route"] == "/healthz" and access[0]["status"] == 200


def walk_through(client, secrets: list[str]) -> None:
    """Register, log in (body and cookie), refresh, reuse, change password, log out."""
    body = {"email": "walk@example.com", "password": PASSWORD}
    client.post("/auth/register", json=body)
    client.post("/auth/login", json={**body, "password": "a wrong password"})
    pair = client.post("/auth/login", json=body).get_json()
    cookie_login = client.post("/auth/login", json={**body, "use_cookies": True})
    secrets += [pair["access_token"], pair["refresh_token"],
                client.get_cookie("refresh_token_cookie", path="/auth").value,
                client.get_cookie("csrf_refresh_token").value, cookie_login.json["access_token"]]
    second = client.post("/auth/refresh", headers=bearer(pair["refresh_token"])).get_json()
    client.post("/auth/refresh", headers=bearer(pair["refresh_token"]))  # reuse
    secrets += [second["access_token"], second["refresh_token"]]
    fresh = client.post("/auth/login", json=body).get_json()
    client.post("/auth/password", headers=bearer(fresh["access_token"]),
                json={"current_password": PASSWORD, "new_password": NEW_PASSWORD})
    client.get("/auth/me", headers=bearer(fresh["access_token"]))
    client.post("/auth/logout", headers=bearer(fresh["access_token"]))
    secrets += [fresh["access_token"], fresh["refresh_token"]]


def test_a_walk_through_logs_no_password_token_or_secret(make_app, capsys):
    secret = "a-test-secret-key-that-is-long-enough-0123456789"
    client = make_app(AUTHAPI_ACCESS_LOG=1, AUTHAPI_LOG_LEVEL="DEBUG",
                      AUTHAPI_SECRET_KEY=secret).test_client()
    secrets = [PASSWORD, NEW_PASSWORD, "a wrong password", secret]
    walk_through(client, secrets)
    logged = capsys.readouterr().err
    assert len(logged.splitlines()) > 15  # the walk-through really was logged
    for value in secrets:
        assert value not in logged
    for token in secrets[4:]:  # a token's signature alone must not appear either
        assert token.rsplit(".", 1)[-1] not in logged


def test_an_unknown_log_level_is_refused_by_name(make_app):
    from authapi.config import ConfigError

    with pytest.raises(ConfigError, match="AUTHAPI_LOG_LEVEL"):
        make_app(AUTHAPI_LOG_LEVEL="LOUD")
