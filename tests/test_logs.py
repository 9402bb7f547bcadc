"""Structured JSON logs with a request id; no password, token or secret ever logged."""

from __future__ import annotations

import json
import re
import socket
import time
from typing import Any

import pyotp
import pytest
import requests

from authapi import db
from authapi.mail import outbox
from conftest import PASSWORD, bearer
from fixtures.smtp import LINK_TOKEN, text_of

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


# --- a live `authapi serve`: every line it writes is JSON, and none holds a secret ---

RESET_PASSWORD = "a third long passphrase for the reset"
LIVE_SECRET_KEY = "live-walk-through-secret-key-0123456789-abcdef"


class Walk:
    """A client of a live server that keeps every secret it is given or sends."""

    def __init__(self, base_url: str, secrets: list[str]) -> None:
        self.base_url, self.secrets = base_url, secrets
        self.http = requests.Session()

    def call(self, method: str, path: str, status: int, token: str | None = None,
             **kwargs: Any) -> Any:
        headers = kwargs.pop("headers", {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        response = self.http.request(method, self.base_url + path, headers=headers,
                                     timeout=10, **kwargs)
        assert response.status_code == status, (path, response.text)
        return response.json() if response.content else None

    def keep(self, *values: str) -> None:
        self.secrets.extend(value for value in values if value)


def link_and_token(inbox) -> tuple[str, str]:
    """The link and token of the next mail that has one (notices in between are skipped)."""
    for _ in range(5):
        links = [word for word in text_of(inbox.next()).split() if LINK_TOKEN.search(word)]
        if links:
            return links[0], LINK_TOKEN.search(links[0]).group(1)  # type: ignore[union-attr]
    pytest.fail("no mail with a link arrived")


def live_walk_through(walk: Walk, inbox, cli) -> None:
    """Register and verify, log in, refresh, me, TOTP (a recovery code signs in), reset
    the password by mail, a service's client credentials, introspection, logout."""
    email = "live@example.com"
    walk.keep(PASSWORD, NEW_PASSWORD, RESET_PASSWORD, "a wrong password!")
    walk.call("POST", "/auth/register", 201, json={"email": email, "password": PASSWORD})
    link, token = link_and_token(inbox)  # the verification mail
    walk.keep(link, token)
    walk.call("POST", "/auth/verify-email/confirm", 204, json={"token": token})
    walk.call("POST", "/auth/login", 401, json={"email": email, "password": "a wrong password!"})
    pair = walk.call("POST", "/auth/login", 200, json={"email": email, "password": PASSWORD},
                     headers={"X-Request-ID": "walk-login-1"})
    walk.keep(pair["access_token"], pair["refresh_token"])
    rotated = walk.call("POST", "/auth/refresh", 200, token=pair["refresh_token"])
    walk.keep(rotated["access_token"], rotated["refresh_token"])
    walk.call("GET", "/auth/me", 200, token=rotated["access_token"])
    setup = walk.call("POST", "/auth/mfa/totp/setup", 200, token=rotated["access_token"])
    walk.keep(setup["secret"], setup["otpauth_uri"])
    codes = walk.call("POST", "/auth/mfa/totp/enable", 200, token=rotated["access_token"],
                      json={"otp": pyotp.TOTP(setup["secret"]).now()})["recovery_codes"]
    walk.keep(*codes)
    walk.call("POST", "/auth/login", 401, json={"email": email, "password": PASSWORD})
    second = walk.call("POST", "/auth/login", 200,
                       json={"email": email, "password": PASSWORD, "otp": codes[0]})
    walk.keep(second["access_token"], second["refresh_token"])
    walk.call("POST", "/auth/password", 204, token=second["access_token"],
              json={"current_password": PASSWORD, "new_password": NEW_PASSWORD})
    walk.call("POST", "/auth/password-reset", 202, json={"email": email})
    link, token = link_and_token(inbox)
    walk.keep(link, token)
    walk.call("POST", "/auth/password-reset/confirm", 204,
              json={"token": token, "new_password": RESET_PASSWORD})
    made = cli("clients", "create", "--name", "reporting", "--scope", "reports:read",
               env={"AUTHAPI_SECRET_KEY": LIVE_SECRET_KEY})  # the server's
    assert made.returncode == 0, made.stderr
    client = json.loads(made.stdout)
    walk.keep(client["client_secret"])
    service = walk.call("POST", "/oauth/token", 200, data={"grant_type": "client_credentials"},
                        auth=(client["client_id"], client["client_secret"]))
    walk.keep(service["access_token"])
    walk.call("POST", "/oauth/introspect", 200, data={"token": service["access_token"]},
              auth=(client["client_id"], client["client_secret"]))
    final = walk.call("POST", "/auth/login", 200, json={
        "email": email, "password": RESET_PASSWORD, "otp": codes[1]})
    walk.keep(final["access_token"], final["refresh_token"])
    walk.call("POST", "/auth/logout", 204, token=final["access_token"])
    walk.call("GET", "/auth/me", 401, token=final["access_token"])


def refused_request(base_url: str) -> None:
    """A request line gunicorn itself refuses (its error and access logs)."""
    host, port = base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(b"GARBAGE /auth/verify?token=refused-secret-token\r\n\r\n")
        assert sock.recv(64).startswith(b"HTTP/1.1 400")


def test_a_live_walk_through_logs_only_json_lines_and_no_secret(serve, cli, smtp_server,
                                                                 tmp_path):
    inbox, mail_url = smtp_server(refuse=1)  # the first delivery fails: a mailer warning
    server = serve("--workers", "1", env={
        "AUTHAPI_MAIL_URL": mail_url, "AUTHAPI_MAIL_RETRY_BASE": "0.05",
        "AUTHAPI_ACCESS_LOG": "1", "AUTHAPI_LOG_LEVEL": "DEBUG",
        "AUTHAPI_SECRET_KEY": LIVE_SECRET_KEY,
        "GUNICORN_CMD_ARGS": "--access-logfile -"})  # gunicorn's own access log on
    secrets = [LIVE_SECRET_KEY, "refused-secret-token"]  # in a request gunicorn refuses
    live_walk_through(Walk(server.base_url, secrets), inbox, cli)
    refused_request(server.base_url)
    log_file = tmp_path / f"serve-{server.base_url.rsplit(':', 1)[1]}.log"
    deadline = time.monotonic() + 5  # the last lines may still be on their way
    while "Invalid request" not in log_file.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    text = log_file.read_text()
    lines = [json.loads(line) for line in text.splitlines()]  # every line is JSON
    loggers = {line["logger"] for line in lines}
    assert {"gunicorn.error", "gunicorn.access", "authapi.access", "authapi.audit",
            "authapi.mail.outbox"} <= loggers, loggers
    assert "authapi.mail.console" not in loggers
    gunicorn_access = [line for line in lines if line["logger"] == "gunicorn.access"]
    assert any(line["request_id"] == "walk-login-1" and line["path"] == "/auth/login"
               for line in gunicorn_access)
    assert all(line.get("request_id") for line in gunicorn_access)
    assert any(line["logger"] == "gunicorn.error" and line["level"] == "warning"
               and line["message"].startswith("Invalid request") for line in lines)
    assert len(secrets) > 25
    for value in secrets:
        assert value not in text, value[:12]
    for value in secrets:  # a token's signature alone must not appear either
        if value.count(".") == 2:
            assert value.rsplit(".", 1)[1] not in text


def test_the_console_mailer_writes_one_json_line_a_search_can_tell_apart(app, capsys):
    with app.test_request_context():
        outbox.queue("ada@example.com", "verify_email", email="ada@example.com",
                     link="http://x/?token=t", hours=1)
        db.orm().commit()
    capsys.readouterr()
    with app.app_context():
        outbox.drain()
    # Another test's app may still have a thread logging (a Redis nudge listener): only
    # the mailer's lines are this test's.
    (line,) = [line for line in log_lines(capsys) if line["logger"] == "authapi.mail.console"]
    assert line["to"] == "ada@example.com"
    assert line["subject"] == "Confirm your email address"
    assert "http://x/?token=t" in line["text"]  # the link is there, for development only


def test_the_shared_encoder_keeps_text_and_stringifies_what_json_cannot_hold():
    """The formatter's one encoder writes as json.dumps(default=str, ensure_ascii=False):
    non-ASCII text as it is, a value JSON has no type for as its str, one line."""
    import logging
    from datetime import UTC, datetime

    from authapi.ops.logs import JsonFormatter

    record = logging.LogRecord("authapi.audit", logging.INFO, __file__, 0, "refresh", None, None)
    record.created = 1764914943.9994999
    record.fields = {"who": "Zoë", "at": datetime(2026, 12, 5, tzinfo=UTC)}
    line = JsonFormatter().format(record)
    assert "\n" not in line and "Zoë" in line
    entry = json.loads(line)
    assert entry["ts"] == "2025-12-05T06:09:03.999+00:00"
    assert entry["at"] == "2026-12-05 00:00:00+00:00" and entry["who"] == "Zoë"
