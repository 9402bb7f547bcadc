"""Edges a probe found: security headers, chunked bodies, gunicorn's own answers."""

from __future__ import annotations

import http.client
import json
from urllib.parse import urlsplit

import pytest

from conftest import PASSWORD, PROBLEM, assert_problem

PATHS = ["/healthz", "/readyz", "/auth/me", "/auth/login", "/no/such/path", "/openapi.json",
         "/docs", "/.well-known/jwks.json"]


@pytest.mark.parametrize("path", PATHS)
def test_every_response_has_the_security_headers(client, path):
    response = client.get(path)
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert "Server" not in response.headers


@pytest.mark.parametrize("path", ["/healthz", "/auth/me", "/auth/login", "/openapi.json"])
def test_outside_docs_the_csp_allows_nothing(client, path):
    csp = client.get(path).headers["Content-Security-Policy"]
    assert csp.startswith("default-src 'none';")
    assert "script-src" not in csp


def test_docs_csp_allows_only_its_own_assets(client):
    csp = client.get("/docs").headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "http" not in csp  # no CDN


@pytest.mark.parametrize(("method", "path"), [("POST", "/auth/login"), ("GET", "/auth/me"),
                                              ("POST", "/auth/register"), ("GET", "/readyz")])
def test_token_and_personal_responses_are_not_stored(client, method, path):
    assert client.open(path, method=method).headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("password", [" " * 8, " " * 40, "\t" * 9, "\u3000" * 10])
def test_password_of_only_spaces_is_weak(client, password):
    response = client.post("/auth/register", json={"email": "s@example.com",
                                                     "password": password})
    assert_problem(response, 422, "weak_password")


def _raw(server, method: str, path: str, body: bytes | None = None, chunked: bool = False,
         headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    """One request over a fresh connection; a chunked body goes in 4 KiB pieces."""
    url = urlsplit(server.base_url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    payload = (body[i:i + 4096] for i in range(0, len(body), 4096)) if chunked and body else body
    conn.request(method, path, body=payload, headers={"Content-Type": "application/json",
                                                      **(headers or {})},
                 encode_chunked=chunked)
    response = conn.getresponse()
    result = response.status, dict(response.getheaders()), response.read()
    conn.close()
    return result


@pytest.fixture
def live(serve):
    return serve("--workers", "1")


def test_chunked_body_over_64_kib_is_413_and_stores_nothing(live):
    body = json.dumps({"email": "big@example.com", "password": PASSWORD}).encode()
    status, headers, raw = _raw(live, "POST", "/auth/register", body + b" " * 100_000, True)
    assert (status, headers["Content-Type"]) == (413, PROBLEM)
    assert json.loads(raw)["code"] == "payload_too_large"
    login = {"email": "big@example.com", "password": PASSWORD}
    assert live.request("POST", "/auth/login", login)[0] == 401


def test_chunked_body_within_the_limit_is_read_whole(live):
    body = json.dumps({"email": "small@example.com", "password": PASSWORD}).encode()
    status, _, _ = _raw(live, "POST", "/auth/register", body + b" " * 60_000, True)
    assert status == 201


@pytest.mark.parametrize(("path", "headers", "status", "code"), [
    ("/healthz", {"X-Big": "a" * 9000}, 431, "headers_too_large"),
    ("/healthz", {f"X-H{i}": "v" for i in range(120)}, 431, "headers_too_large"),
    ("/healthz?" + "a" * 5000, {}, 414, "uri_too_long"),
])
def test_what_gunicorn_refuses_is_still_problem_json(live, path, headers, status, code):
    got, response_headers, raw = _raw(live, "GET", path, headers=headers)
    assert (got, response_headers["Content-Type"]) == (status, PROBLEM)
    assert json.loads(raw)["code"] == code
    assert response_headers["X-Content-Type-Options"] == "nosniff"
    assert response_headers["Server"] == "authapi"


def test_the_live_server_names_no_version(live):
    _, headers, _ = _raw(live, "GET", "/healthz")
    assert headers["Server"] == "authapi"
    assert headers["Referrer-Policy"] == "no-referrer"
