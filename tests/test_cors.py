"""CORS: exactly AUTHAPI_CORS_ORIGINS, with credentials and Vary: Origin; others get nothing."""

from __future__ import annotations

import pytest

from authapi.config import ConfigError
from conftest import assert_problem

PAGE = "http://127.0.0.1:5173"
OTHER = "https://app.example.com"
PREFLIGHT = {"Access-Control-Request-Method": "POST",
             "Access-Control-Request-Headers": "authorization, content-type, x-csrf-token"}
REFUSED = ["http://127.0.0.1:5174", "https://127.0.0.1:5173", "http://evil.example", "null",
           "http://127.0.0.1:5173.evil.example", "http://localhost:5173"]


@pytest.fixture
def client(make_app):
    return make_app(AUTHAPI_CORS_ORIGINS=f" {PAGE}/ , {OTHER}").test_client()


def cors_headers(response) -> set[str]:
    return {name.lower() for name in response.headers.keys()
            if name.lower().startswith("access-control-")}


@pytest.mark.parametrize("origin", [PAGE, OTHER])
def test_preflight_from_an_allowed_origin(client, origin):
    response = client.options("/auth/refresh", headers={"Origin": origin, **PREFLIGHT})
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == origin
    assert response.headers["Access-Control-Allow-Credentials"] == "true"
    allowed = {h.strip().lower() for h in
               response.headers["Access-Control-Allow-Headers"].split(",")}
    assert {"authorization", "content-type", "x-csrf-token"} <= allowed
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    assert "Origin" in response.headers["Vary"]


@pytest.mark.parametrize("path", ["/healthz", "/auth/me"])
def test_actual_answers_to_an_allowed_origin_carry_cors_headers(client, path):
    response = client.get(path, headers={"Origin": PAGE})
    assert response.headers["Access-Control-Allow-Origin"] == PAGE
    assert response.headers["Access-Control-Allow-Credentials"] == "true"
    assert "Origin" in response.headers["Vary"]


def test_an_error_is_readable_by_the_allowed_origin(client):
    response = client.get("/auth/me", headers={"Origin": PAGE})
    assert_problem(response, 401, "token_missing")
    assert response.headers["Access-Control-Allow-Origin"] == PAGE


@pytest.mark.parametrize("origin", REFUSED)
@pytest.mark.parametrize("method", ["options", "get"])
def test_any_other_origin_gets_no_cors_headers(client, origin, method):
    response = getattr(client, method)("/auth/me", headers={"Origin": origin, **PREFLIGHT})
    assert cors_headers(response) == set()
    assert "Origin" in response.headers["Vary"]


def test_without_configured_origins_nobody_gets_cors_headers(app):
    response = app.test_client().options("/auth/refresh", headers={"Origin": PAGE, **PREFLIGHT})
    assert cors_headers(response) == set()
    assert "Origin" in response.headers["Vary"]


@pytest.mark.parametrize("value", ["*", "http://*.example.com", "127.0.0.1:5173",
                                   "http://127.0.0.1:5173/app", "ftp://example.com",
                                   "http://user@example.com"])
def test_a_pattern_or_non_origin_is_refused_at_start(make_app, value):
    with pytest.raises(ConfigError, match="AUTHAPI_CORS_ORIGINS"):
        make_app(AUTHAPI_CORS_ORIGINS=value)
