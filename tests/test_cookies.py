"""Cookie mode: both cookies' attributes in every environment, logout, and CSRF."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from authapi import db
from authapi.models import AuditEvent
from conftest import PASSWORD, assert_problem, bearer

EMAIL = "c@example.com"
TTL = 3600
REFRESH_COOKIE, CSRF_COOKIE = "refresh_token_cookie", "csrf_refresh_token"
# HS256 in production: the shared test database's RSA keys are sealed under the dev secret.
ENVIRONMENTS = {
    "development": {"AUTHAPI_ENV": "development"},
    "testing": {"AUTHAPI_ENV": "testing"},
    "production": {"AUTHAPI_ENV": "production", "AUTHAPI_SECRET_KEY": "s" * 48,
                   "AUTHAPI_JWT_ALGORITHM": "HS256", "AUTHAPI_MAIL_URL": "smtp://127.0.0.1:1"},
}


def cookie_login(client):
    return client.post("/auth/login", json={"email": EMAIL, "password": PASSWORD,
                                            "use_cookies": True})


def attributes(response, name) -> dict[str, str]:
    """The attributes of the Set-Cookie header for `name`, lower-cased names."""
    (header,) = [h for h in response.headers.getlist("Set-Cookie") if h.startswith(name + "=")]
    parts = [part.strip().partition("=") for part in header.split(";")[1:]]
    return {key.lower(): value for key, _, value in parts}


def csrf(client) -> dict[str, str]:
    return {"X-CSRF-TOKEN": client.get_cookie(CSRF_COOKIE).value}


@pytest.fixture
def client(make_app, make_user):
    make_user(email=EMAIL)
    return make_app(AUTHAPI_REFRESH_TTL=TTL).test_client()


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_attribute_of_both_cookies(make_app, make_user, env):
    make_user(email=EMAIL)
    response = cookie_login(make_app(AUTHAPI_REFRESH_TTL=TTL, **ENVIRONMENTS[env]).test_client())
    refresh, token = attributes(response, REFRESH_COOKIE), attributes(response, CSRF_COOKIE)
    assert (refresh["path"], token["path"]) == ("/auth", "/")
    assert refresh["samesite"] == token["samesite"] == "Strict"
    assert refresh["max-age"] == token["max-age"] == str(TTL)
    assert "httponly" in refresh and "httponly" not in token
    assert ("secure" in refresh, "secure" in token) == ((env != "development"),) * 2


def test_a_cookie_refresh_sets_both_cookies_again(client):
    cookie_login(client)
    response = client.post("/auth/refresh", headers=csrf(client))
    assert response.status_code == 200
    assert attributes(response, REFRESH_COOKIE)["max-age"] == str(TTL)
    assert attributes(response, CSRF_COOKIE)["path"] == "/"


def test_logout_by_cookie_clears_both_cookies(client):
    cookie_login(client)
    response = client.post("/auth/logout", headers=csrf(client))
    assert response.status_code == 204
    for name, path in ((REFRESH_COOKIE, "/auth"), (CSRF_COOKIE, "/")):
        cleared = attributes(response, name)
        assert cleared["path"] == path and "1970" in cleared["expires"]
    assert client.get_cookie(REFRESH_COOKIE, path="/auth") is None
    assert client.get_cookie(CSRF_COOKIE) is None


def test_after_logout_by_cookie_the_access_token_is_revoked(client):
    access = cookie_login(client).get_json()["access_token"]
    client.post("/auth/logout", headers=csrf(client))
    assert_problem(client.get("/auth/me", headers=bearer(access)), 401, "token_revoked")


@pytest.mark.parametrize("header", [None, "", "wrong", "x" * 36])
@pytest.mark.parametrize("path", ["/auth/refresh", "/auth/logout"])
def test_missing_or_wrong_csrf_is_401_and_changes_nothing(app, client, header, path):
    access = cookie_login(client).get_json()["access_token"]
    with app.app_context():
        events = db.orm().scalar(select(func.count()).select_from(AuditEvent))
    response = client.post(path, headers={} if header is None else {"X-CSRF-TOKEN": header})
    assert_problem(response, 401, "csrf_failed")
    assert response.headers.getlist("Set-Cookie") == []
    with app.app_context():
        assert db.orm().scalar(select(func.count()).select_from(AuditEvent)) == events
    assert client.get("/auth/me", headers=bearer(access)).status_code == 200
    assert client.post("/auth/refresh", headers=csrf(client)).status_code == 200


def test_the_csrf_value_of_another_login_is_refused(client, make_user):
    cookie_login(client)
    stolen = csrf(client)
    cookie_login(client)  # a new login: a new refresh cookie with its own csrf claim
    assert_problem(client.post("/auth/refresh", headers=stolen), 401, "csrf_failed")


def test_the_csrf_value_is_the_sessions_and_outlives_a_rotation(client):
    """Two tabs: one reads the CSRF value, the other's refresh (or re-authentication)
    rotates the refresh cookie before the first one sends. The value is the session's,
    so the rotated cookie still goes with it: no spurious 401 csrf_failed, no lost
    session. Another login (another session) still gets a value of its own."""
    body = cookie_login(client).get_json()
    read_by_the_first_tab = csrf(client)
    refreshed = client.post("/auth/refresh", headers=read_by_the_first_tab)  # the other tab
    assert refreshed.status_code == 200 and csrf(client) == read_by_the_first_tab
    response = client.post("/auth/reauthenticate", headers=bearer(
        refreshed.get_json()["access_token"]), json={"password": PASSWORD, "use_cookies": True})
    assert response.status_code == 200 and csrf(client) == read_by_the_first_tab
    assert client.post("/auth/refresh", headers=read_by_the_first_tab).status_code == 200
    assert client.post("/auth/logout", headers=read_by_the_first_tab).status_code == 204
    assert client.get("/auth/me", headers=bearer(body["access_token"])).status_code == 401
    cookie_login(client)
    assert csrf(client) != read_by_the_first_tab


def test_bearer_refresh_is_never_csrf_checked(client):
    body = client.post("/auth/login", json={"email": EMAIL, "password": PASSWORD}).get_json()
    cookie_login(client)  # cookies present, no X-CSRF-TOKEN sent
    assert client.post("/auth/refresh", headers=bearer(body["refresh_token"])).status_code == 200


@pytest.mark.parametrize("method, path", [("post", "/auth/logout"), ("get", "/auth/me"),
                                          ("get", "/auth/sessions"),
                                          ("post", "/auth/logout-all")])
def test_bearer_calls_are_never_csrf_checked(client, method, path):
    access = cookie_login(client).get_json()["access_token"]
    response = getattr(client, method)(path, headers=bearer(access))
    assert response.status_code in (200, 204)
