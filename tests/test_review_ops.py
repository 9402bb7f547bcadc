"""Operations: /metrics stays off the API port behind a proxy, the OpenAPI document names
the browser pages of the contract, and the CLI answers input that is not UTF-8 with a
one-line error, never a traceback.

The cases came from the review of 2026-12-05.
"""

from __future__ import annotations

import os
import subprocess

import pytest

from conftest import PASSWORD, assert_problem
from fixtures.cli import AUTHAPI

PRODUCTION = {"AUTHAPI_ENV": "production", "AUTHAPI_SECRET_KEY": "s" * 48,
              "AUTHAPI_MAIL_URL": "smtp://127.0.0.1:1", "AUTHAPI_METRICS_PORT": 9464,
              "AUTHAPI_PROXY_COUNT": 1}
UTF8_LOCALE = {"LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"}


# --- /metrics -----------------------------------------------------------------------------

@pytest.mark.parametrize("forwarded", [{}, {"X-Forwarded-Host": "api.example.com:9464"},
                                       {"X-Forwarded-Port": "9464"}],
                         ids=["plain", "forwarded-host", "forwarded-port"])
def test_metrics_are_not_served_on_the_api_port_whatever_the_proxy_forwards(make_app,
                                                                            forwarded):
    """API.md, Operations: in production /metrics is served only on AUTHAPI_METRICS_PORT,
    "never on the API port (404 there)". Behind a trusted proxy, X-Forwarded-Host (or
    -Port) carries what the client sent the proxy, so it never names the listener."""
    client = make_app(**PRODUCTION).test_client()
    response = client.get("/metrics", environ_overrides={"SERVER_PORT": "8000"},
                          headers=forwarded)
    assert b"authapi_logins" not in response.data
    assert_problem(response, 404, "not_found")


def test_behind_a_proxy_the_metrics_listener_still_serves_them(make_app):
    """API.md, Operations: in production /metrics "is served only on AUTHAPI_METRICS_PORT";
    a trusted proxy in front of the API does not take it off that listener."""
    client = make_app(**PRODUCTION).test_client()
    response = client.get("/metrics", environ_overrides={"SERVER_PORT": "9464"},
                          headers={"X-Forwarded-Host": "api.example.com"})
    assert response.status_code == 200
    assert b"authapi_logins" in response.data


# --- the OpenAPI document -----------------------------------------------------------------

@pytest.mark.parametrize("path", ["/oauth/login", "/oauth/device"])
def test_the_openapi_document_names_the_contracts_pages(client, path):
    """API.md, Operations: "GET /openapi.json, GET /docs | the OpenAPI 3 document of every
    endpoint above"; `GET /oauth/login?request={id}` and `GET /oauth/device` are endpoints
    of the contract's tables."""
    assert client.get(path).status_code != 404
    paths = client.get("/openapi.json").get_json()["paths"]
    assert path in paths, sorted(p for p in paths if p.startswith("/oauth"))
    assert "get" in paths[path]


# --- the command line ---------------------------------------------------------------------

def test_clients_create_with_a_name_that_is_not_utf8_is_a_one_line_error(cli, database_url):
    """A mistake on the command line is a one-line `Error: ...`: a client name typed in a
    Latin-1 terminal (b"B\\xfccher") reaches the database as a lone surrogate."""
    latin1_name = b"B\xfccher".decode("utf-8", "surrogateescape")  # argv as Python sees it
    result = cli("clients", "create", "--name", latin1_name, "--scope", "orders:read",
                 env={"AUTHAPI_DATABASE_URL": database_url, **UTF8_LOCALE})
    assert result.returncode == 1, result.stdout
    assert "Traceback" not in result.stderr, result.stderr[-400:]
    assert result.stderr.startswith("Error:"), result.stderr
    assert len(result.stderr.splitlines()) == 1, result.stderr


def test_users_create_with_a_password_that_is_not_utf8_is_a_one_line_error(database_url,
                                                                           tmp_path):
    """A mistake on the command line is a one-line `Error: ...`: `users create
    --password-stdin` with bytes that are not UTF-8 (the API answers such a password with
    a 422). The `cli` fixture sends text, so these bytes go to the same executable here."""
    env = {name: value for name, value in os.environ.items()
           if not name.startswith("AUTHAPI_")}
    env.update(AUTHAPI_BCRYPT_ROUNDS="4", AUTHAPI_INSTANCE_PATH=str(tmp_path / "cli-instance"),
               AUTHAPI_DATABASE_URL=database_url, **UTF8_LOCALE)
    result = subprocess.run(  # noqa: S603
        [AUTHAPI, "users", "create", "--email", "ada@example.com", "--password-stdin"],
        input=b"\xff\xfe" + PASSWORD.encode() + b"\n", env=env, cwd=tmp_path,
        capture_output=True, timeout=120, check=False)
    assert result.returncode == 1, result.stdout
    assert b"Traceback" not in result.stderr, result.stderr[-400:].decode(errors="replace")
    assert result.stderr.startswith(b"Error:"), result.stderr
    assert len(result.stderr.splitlines()) == 1, result.stderr
