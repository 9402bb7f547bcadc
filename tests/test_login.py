"""POST /auth/login: the token pair, uniform failures, claims, lockout and rate limits."""

import jwt
import pytest
from sqlalchemy import select

from authapi import db
from authapi.models import AuditEvent
from conftest import PASSWORD, PROBLEM

ACCESS_CLAIMS = {"iss", "sub", "aud", "iat", "nbf", "exp", "jti", "type", "roles", "scope", "sid",
                 "auth_time", "acr", "amr"}
REFRESH_CLAIMS = {"iss", "sub", "iat", "exp", "jti", "type", "sid"}


def post_login(client, email, password=PASSWORD):
    return client.post("/auth/login", json={"email": email, "password": password})


def claims(token):
    return jwt.decode(token, options={"verify_signature": False})


def audit_events(app, event):
    with app.app_context():
        return list(db.orm().scalars(select(AuditEvent).where(AuditEvent.event == event)))


def test_login_returns_the_token_pair(client, make_user):
    make_user(email="a@example.com")
    response = post_login(client, "a@example.com")
    body = response.get_json()
    assert response.status_code == 200
    assert response.content_type == "application/json"
    assert set(body) == {"access_token", "refresh_token", "token_type", "expires_in"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 900


def test_login_expires_in_follows_the_access_ttl(make_app, make_user):
    client = make_app(AUTHAPI_ACCESS_TTL=120).test_client()
    make_user(email="a@example.com")
    body = post_login(client, "a@example.com").get_json()
    assert body["expires_in"] == 120
    assert claims(body["access_token"])["exp"] - claims(body["access_token"])["iat"] == 120


def test_login_response_is_not_cached(client, make_user):
    make_user(email="a@example.com")
    response = post_login(client, "a@example.com")
    assert response.status_code == 200
    assert "no-store" in response.headers["Cache-Control"]


def test_login_email_is_case_insensitive(client, make_user):
    make_user(email="a@example.com")
    assert post_login(client, "  A@Example.COM").status_code == 200


def test_unknown_email_and_wrong_password_get_the_same_answer(client, make_user):
    make_user(email="a@example.com")
    wrong = post_login(client, "a@example.com", "not the password at all")
    unknown = post_login(client, "nobody@example.com")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.content_type == unknown.content_type == PROBLEM
    assert wrong.get_json()["code"] == "invalid_credentials"
    assert wrong.get_json() == unknown.get_json()
    assert wrong.headers.get("WWW-Authenticate") == unknown.headers.get("WWW-Authenticate")


def test_disabled_user_cannot_log_in(client, make_user):
    make_user(email="a@example.com", disabled=True)
    response = post_login(client, "a@example.com")
    assert response.status_code == 403
    assert response.content_type == PROBLEM
    assert response.get_json()["code"] == "account_disabled"
    assert "access_token" not in response.get_json()


def test_access_token_claims_are_exactly_the_contracts(client, make_user):
    user_id = make_user(email="a@example.com")
    access = claims(post_login(client, "a@example.com").get_json()["access_token"])
    assert set(access) == ACCESS_CLAIMS
    assert access["type"] == "access" and access["sub"] == user_id
    assert access["iss"] == access["aud"] == "http://localhost:8000"
    assert access["roles"] == ["user"] and access["scope"] == ""
    assert access["exp"] - access["iat"] == 900


def test_refresh_token_claims_are_exactly_the_contracts(client, make_user):
    user_id = make_user(email="a@example.com")
    body = post_login(client, "a@example.com").get_json()
    refresh = claims(body["refresh_token"])
    assert set(refresh) == REFRESH_CLAIMS
    assert refresh["type"] == "refresh" and refresh["sub"] == user_id
    assert refresh["sid"] == claims(body["access_token"])["sid"]
    assert refresh["exp"] - refresh["iat"] == 1_209_600


def test_token_headers_carry_a_published_kid(client, make_user):
    make_user(email="a@example.com")
    body = post_login(client, "a@example.com").get_json()
    published = {key["kid"] for key in client.get("/.well-known/jwks.json").get_json()["keys"]}
    access = jwt.get_unverified_header(body["access_token"])
    refresh = jwt.get_unverified_header(body["refresh_token"])
    assert access["alg"] == "RS256" and access["kid"] in published
    # Only authapi verifies refresh tokens: HS256 under a derived key, same kid (API.md).
    assert refresh["alg"] == "HS256" and refresh["kid"] == access["kid"]


def test_each_login_gets_its_own_session_and_jtis(client, make_user):
    make_user(email="a@example.com")
    first, second = (claims(post_login(client, "a@example.com").get_json()["access_token"])
                     for _ in range(2))
    assert first["sid"] != second["sid"]
    assert first["jti"] != second["jti"]


def fail_login(client, email, times):
    for _ in range(times):
        assert post_login(client, email, "wrong password, again").status_code == 401


def assert_locked(response):
    assert response.status_code == 429
    assert response.content_type == PROBLEM
    assert response.get_json()["code"] == "account_locked"
    assert int(response.headers["Retry-After"]) > 0


def test_account_locks_after_max_failures_even_with_the_right_password(make_app, make_user):
    client = make_app(AUTHAPI_LOGIN_MAX_FAILURES=3).test_client()
    make_user(email="a@example.com")
    fail_login(client, "a@example.com", 3)
    assert_locked(post_login(client, "a@example.com"))


def test_account_lock_ignores_email_case(make_app, make_user):
    client = make_app(AUTHAPI_LOGIN_MAX_FAILURES=3).test_client()
    make_user(email="a@example.com")
    fail_login(client, "a@example.com", 3)
    assert_locked(post_login(client, "A@EXAMPLE.COM"))


def test_unknown_email_locks_the_same_way(make_app):
    client = make_app(AUTHAPI_LOGIN_MAX_FAILURES=3).test_client()
    fail_login(client, "nobody@example.com", 3)
    assert_locked(post_login(client, "nobody@example.com"))


def test_account_lock_does_not_lock_other_accounts(make_app, make_user):
    client = make_app(AUTHAPI_LOGIN_MAX_FAILURES=3).test_client()
    make_user(email="a@example.com")
    make_user(email="b@example.com")
    fail_login(client, "a@example.com", 3)
    assert post_login(client, "b@example.com").status_code == 200


def test_failures_below_the_limit_do_not_lock(make_app, make_user):
    client = make_app(AUTHAPI_LOGIN_MAX_FAILURES=3).test_client()
    make_user(email="a@example.com")
    fail_login(client, "a@example.com", 2)
    assert post_login(client, "a@example.com").status_code == 200


def test_per_address_limit_answers_429_rate_limited(make_app, make_user):
    client = make_app(AUTHAPI_LOGIN_RATE_PER_ADDRESS="3 per minute").test_client()
    make_user(email="a@example.com")
    for _ in range(3):
        assert post_login(client, "a@example.com").status_code == 200
    response = post_login(client, "a@example.com")
    assert response.status_code == 429
    assert response.content_type == PROBLEM
    assert response.get_json()["code"] == "rate_limited"
    assert int(response.headers["Retry-After"]) > 0


def test_failed_login_is_audited(app, client, make_user):
    user_id = make_user(email="a@example.com")
    post_login(client, "a@example.com", "wrong password, again")
    post_login(client, "nobody@example.com")
    events = audit_events(app, "login_failed")
    assert len(events) == 2
    assert {event.user_id for event in events} == {user_id, None}


def test_successful_login_is_audited(app, client, make_user):
    user_id = make_user(email="a@example.com")
    assert post_login(client, "a@example.com").status_code == 200
    events = audit_events(app, "login")
    assert [event.user_id for event in events] == [user_id]
    assert events[0].ip == "127.0.0.1"
    assert audit_events(app, "login_failed") == []


@pytest.mark.parametrize("use_cookies", [False, True])
def test_login_with_an_unknown_field_is_422(client, make_user, use_cookies):
    make_user(email="a@example.com")
    response = client.post("/auth/login", json={"email": "a@example.com", "password": PASSWORD,
                                                "use_cookies": use_cookies, "remember": 1})
    assert response.status_code == 422
    assert response.content_type == PROBLEM
    assert response.get_json()["code"] == "validation_error"
    assert "remember" in response.get_json()["errors"]
