"""GET /auth/check: forward-auth for reverse proxies."""

import pytest

from authapi import db
from authapi.models import Role
from conftest import assert_problem, bearer

INVALID_TOKEN = 'Bearer error="invalid_token"'


def check(client, headers, query=""):
    return client.get(f"/auth/check{query}", headers=headers)


@pytest.fixture
def reader_headers(app, make_user, login):
    """A user whose only role grants users:read."""
    with app.app_context():
        db.orm().add(Role(name="reader", permissions=["users:read"]))
        db.orm().commit()
    return bearer(login(make_user(roles=("reader",)))["access_token"])


def test_check_answers_200_with_identity_headers(client, make_user, login):
    user_id = make_user()
    response = check(client, bearer(login(user_id)["access_token"]))
    assert response.status_code == 200
    assert response.headers["X-Auth-Subject"] == user_id
    assert response.headers["X-Auth-Roles"] == "user"
    assert response.headers["X-Auth-Scope"] == ""


def test_check_roles_header_is_comma_separated(client, auth_headers):
    response = check(client, auth_headers(("admin", "user")))
    assert response.status_code == 200
    assert sorted(response.headers["X-Auth-Roles"].split(",")) == ["admin", "user"]
    assert "users:read" in response.headers["X-Auth-Scope"].split(" ")


def test_check_is_not_cached(client, auth_headers):
    response = check(client, auth_headers())
    assert response.status_code == 200
    assert "no-store" in response.headers["Cache-Control"]


@pytest.mark.parametrize(("roles", "query", "status"), [
    (("user",), "?role=user", 200),
    (("user",), "?role=admin", 403),
    (("user",), "?role=admin&role=user", 200),
    (("user",), "?role=admin&role=ops", 403),
    (("admin",), "?role=admin&role=user", 200),
    (("admin", "user"), "?role=user", 200),
])
def test_check_role_is_any_of(client, auth_headers, roles, query, status):
    assert check(client, auth_headers(roles), query).status_code == status


def test_check_missing_role_is_403_insufficient_role(client, auth_headers):
    response = check(client, auth_headers(), "?role=admin")
    assert_problem(response, 403, "insufficient_role")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert 'error="insufficient_scope"' in response.headers["WWW-Authenticate"]


@pytest.mark.parametrize(("query", "status"), [
    ("?scope=users:read", 200),
    ("?scope=users:read&scope=users:read", 200),
    ("?scope=users:read&scope=users:write", 403),
    ("?scope=users:write", 403),
    ("?scope=users", 403),
])
def test_check_scope_is_all_of(client, reader_headers, query, status):
    assert check(client, reader_headers, query).status_code == status


def test_check_missing_scope_is_403_insufficient_scope(client, reader_headers):
    response = check(client, reader_headers, "?scope=users:read&scope=audit:read")
    assert_problem(response, 403, "insufficient_scope")
    assert 'error="insufficient_scope"' in response.headers["WWW-Authenticate"]


def test_check_admin_has_every_scope(client, auth_headers):
    query = "?scope=users:read&scope=users:write&scope=roles:write&scope=audit:read"
    assert check(client, auth_headers(("admin",)), query).status_code == 200


def test_check_role_and_scope_both_apply(client, reader_headers):
    assert check(client, reader_headers, "?role=reader&scope=users:read").status_code == 200
    assert check(client, reader_headers, "?role=admin&scope=users:read").status_code == 403


def test_check_without_token_is_401_token_missing(client):
    response = check(client, {})
    assert_problem(response, 401, "token_missing")
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert "X-Auth-Subject" not in response.headers


@pytest.mark.parametrize("header", ["Bearer garbage", "Bearer a.b.c", "Bearer x y",
                                    "Bearer", "bearer " + "x" * 9000])
def test_check_with_a_bad_token_is_401_token_invalid(client, header):
    response = check(client, {"Authorization": header})
    assert_problem(response, 401, "token_invalid")
    assert response.headers["WWW-Authenticate"] == INVALID_TOKEN


def test_check_with_another_auth_scheme_is_401_without_error_code(client):
    # RFC 6750 §3.1: an unsupported authentication method gets no error code.
    response = check(client, {"Authorization": "Basic dXNlcjpwYXNz"})
    assert_problem(response, 401, "token_missing")
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_check_with_a_refresh_token_is_401_token_invalid(client, make_user, login):
    response = check(client, bearer(login(make_user())["refresh_token"]))
    assert_problem(response, 401, "token_invalid")
    assert response.headers["WWW-Authenticate"] == INVALID_TOKEN


def test_check_with_a_revoked_token_is_401_token_revoked(client, make_user, login):
    headers = bearer(login(make_user())["access_token"])
    assert client.post("/auth/logout", headers=headers).status_code == 204
    response = check(client, headers)
    assert_problem(response, 401, "token_revoked")
    assert response.headers["WWW-Authenticate"] == INVALID_TOKEN


def test_check_with_an_expired_token_is_401_token_expired(make_app, make_user):
    client = make_app(AUTHAPI_ACCESS_TTL=-10).test_client()
    make_user(email="e@example.com")
    body = client.post("/auth/login", json={"email": "e@example.com",
                                            "password": "correct horse battery staple"})
    response = check(client, bearer(body.get_json()["access_token"]))
    assert_problem(response, 401, "token_expired")
    assert response.headers["WWW-Authenticate"] == INVALID_TOKEN
