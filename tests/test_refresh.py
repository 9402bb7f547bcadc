"""POST /auth/refresh: transports, rotation, reuse detection, fresh claims, cookie mode."""

import jwt
import pytest
from sqlalchemy import select

from authapi import db
from authapi.models import Role, User
from authapi.sessions import sessions
from conftest import PASSWORD, assert_problem, bearer


def claims(token):
    return jwt.decode(token, options={"verify_signature": False})


def refresh(client, token):
    return client.post("/auth/refresh", headers=bearer(token))


def set_roles(app, user_id, names, void=False):
    with app.app_context():
        user = db.orm().get(User, user_id)
        user.roles = list(db.orm().scalars(select(Role).where(Role.name.in_(names))))
        if void:
            sessions.void_access_tokens(user_id)
        db.orm().commit()


@pytest.fixture
def pair(make_user, login):
    return login(make_user())


def test_refresh_by_authorization_header(client, pair):
    response = refresh(client, pair["refresh_token"])
    body = response.get_json()
    assert response.status_code == 200
    assert response.content_type == "application/json"
    assert set(body) == {"access_token", "refresh_token", "token_type", "expires_in"}
    assert body["token_type"] == "Bearer"
    assert "no-store" in response.headers["Cache-Control"]


def test_refresh_by_json_body(client, pair):
    response = client.post("/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert response.status_code == 200
    assert response.get_json()["token_type"] == "Bearer"
    assert claims(response.get_json()["access_token"])["sid"] == claims(pair["access_token"])["sid"]


def test_refresh_rotates_both_tokens(client, pair):
    body = refresh(client, pair["refresh_token"]).get_json()
    assert body["refresh_token"] != pair["refresh_token"]
    assert body["access_token"] != pair["access_token"]
    assert claims(body["refresh_token"])["jti"] != claims(pair["refresh_token"])["jti"]
    assert client.get("/auth/me", headers=bearer(body["access_token"])).status_code == 200


def test_reused_refresh_token_is_401_token_reused(client, pair):
    second = refresh(client, pair["refresh_token"]).get_json()
    assert refresh(client, second["refresh_token"]).status_code == 200
    assert_problem(refresh(client, pair["refresh_token"]), 401, "token_reused")


def test_reuse_revokes_the_latest_access_and_refresh_tokens(client, pair):
    second = refresh(client, pair["refresh_token"]).get_json()
    third = refresh(client, second["refresh_token"]).get_json()
    refresh(client, pair["refresh_token"])
    assert_problem(client.get("/auth/me", headers=bearer(third["access_token"])),
                   401, "token_revoked")
    assert_problem(refresh(client, third["refresh_token"]), 401, "token_revoked")


def test_reuse_answer_carries_invalid_token_challenge(client, pair):
    refresh(client, pair["refresh_token"])
    response = refresh(client, pair["refresh_token"])
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_reuse_does_not_touch_other_sessions_of_the_user(client, make_user, login):
    user_id = make_user()
    first, other = login(user_id), login(user_id)
    refresh(client, first["refresh_token"])
    refresh(client, first["refresh_token"])
    assert client.get("/auth/me", headers=bearer(other["access_token"])).status_code == 200
    assert refresh(client, other["refresh_token"]).status_code == 200


def test_access_token_is_refused_by_refresh(client, pair):
    assert_problem(refresh(client, pair["access_token"]), 401, "token_invalid")


@pytest.mark.parametrize("token", ["garbage", "a.b.c", "eyJhbGciOiJub25lIn0.e30."])
def test_malformed_refresh_token_is_401_token_invalid(client, token):
    assert_problem(refresh(client, token), 401, "token_invalid")


def test_refresh_without_any_token_is_401_token_missing(client):
    response = client.post("/auth/refresh")
    assert_problem(response, 401, "token_missing")
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_refresh_body_with_an_unknown_field_is_422(client, pair):
    response = client.post("/auth/refresh",
                           json={"refresh_token": pair["refresh_token"], "roles": ["admin"]})
    assert_problem(response, 422, "validation_error")
    assert "roles" in response.get_json()["errors"]


def test_refresh_reads_roles_from_the_database(app, client, make_user, login):
    user_id = make_user()
    pair = login(user_id)
    set_roles(app, user_id, ["admin"])
    new = claims(refresh(client, pair["refresh_token"]).get_json()["access_token"])
    assert new["roles"] == ["admin"]
    assert "users:read" in new["scope"].split()


def test_role_change_revokes_earlier_access_tokens(app, client, make_user, login):
    user_id = make_user()
    pair = login(user_id)
    set_roles(app, user_id, ["admin"], void=True)
    assert_problem(client.get("/auth/me", headers=bearer(pair["access_token"])),
                   401, "token_revoked")


def test_role_change_keeps_the_refresh_token_and_new_access_works(app, client, make_user,
                                                                  login):
    user_id = make_user()
    pair = login(user_id)
    set_roles(app, user_id, ["admin"], void=True)
    response = refresh(client, pair["refresh_token"])
    assert response.status_code == 200
    new = response.get_json()["access_token"]
    assert claims(new)["roles"] == ["admin"]
    assert client.get("/auth/me", headers=bearer(new)).status_code == 200


def test_expired_refresh_token_is_401_token_expired(make_app, make_user):
    client = make_app(AUTHAPI_REFRESH_TTL=-10).test_client()
    email = "a@example.com"
    make_user(email=email)
    body = client.post("/auth/login", json={"email": email, "password": PASSWORD}).get_json()
    response = refresh(client, body["refresh_token"])
    assert_problem(response, 401, "token_expired")
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_refresh_of_a_disabled_user_is_refused(app, client, make_user, login):
    user_id = make_user()
    pair = login(user_id)
    with app.app_context():
        db.orm().get(User, user_id).disabled = True
        db.orm().commit()
    response = refresh(client, pair["refresh_token"])
    assert response.status_code in (401, 403)
    assert response.get_json()["code"] in ("account_disabled", "token_revoked")


def cookie_login(client, email="c@example.com"):
    return client.post("/auth/login",
                       json={"email": email, "password": PASSWORD, "use_cookies": True})


def set_cookie(response, name):
    (header,) = [h for h in response.headers.getlist("Set-Cookie") if h.startswith(name + "=")]
    return [part.strip() for part in header.split(";")]


def test_cookie_login_keeps_the_refresh_token_out_of_the_body(client, make_user):
    make_user(email="c@example.com")
    response = cookie_login(client)
    assert response.status_code == 200
    assert "refresh_token" not in response.get_json()
    assert response.get_json()["access_token"]


def test_cookie_login_sets_an_httponly_strict_refresh_cookie(client, make_user):
    make_user(email="c@example.com")
    attributes = set_cookie(cookie_login(client), "refresh_token_cookie")
    assert "HttpOnly" in attributes
    assert "Path=/auth" in attributes
    assert "SameSite=Strict" in attributes


def test_cookie_login_sets_a_readable_csrf_cookie(client, make_user):
    make_user(email="c@example.com")
    attributes = set_cookie(cookie_login(client), "csrf_refresh_token")
    assert "Path=/" in attributes
    assert "HttpOnly" not in attributes


def test_cookies_are_secure_in_production(make_app, make_user):
    # HS256: the shared test database holds RSA keys encrypted under the default secret.
    client = make_app(AUTHAPI_ENV="production", AUTHAPI_SECRET_KEY="s" * 48,
                      AUTHAPI_JWT_ALGORITHM="HS256",
                      AUTHAPI_MAIL_URL="smtp://127.0.0.1:1").test_client()
    make_user(email="c@example.com")
    response = cookie_login(client)
    assert "Secure" in set_cookie(response, "refresh_token_cookie")
    assert "Secure" in set_cookie(response, "csrf_refresh_token")


def test_cookie_refresh_without_csrf_header_is_401_csrf_failed(client, make_user):
    make_user(email="c@example.com")
    cookie_login(client)
    assert_problem(client.post("/auth/refresh"), 401, "csrf_failed")


def test_cookie_refresh_with_a_wrong_csrf_header_is_401_csrf_failed(client, make_user):
    make_user(email="c@example.com")
    cookie_login(client)
    response = client.post("/auth/refresh", headers={"X-CSRF-TOKEN": "not-the-value"})
    assert_problem(response, 401, "csrf_failed")


def test_cookie_refresh_with_csrf_header_rotates_the_cookie(client, make_user):
    make_user(email="c@example.com")
    cookie_login(client)
    old = client.get_cookie("refresh_token_cookie", path="/auth").value
    csrf = client.get_cookie("csrf_refresh_token").value
    response = client.post("/auth/refresh", headers={"X-CSRF-TOKEN": csrf})
    assert response.status_code == 200
    assert "refresh_token" not in response.get_json()
    assert client.get_cookie("refresh_token_cookie", path="/auth").value != old
