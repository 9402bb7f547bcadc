"""POST /auth/logout and /auth/logout-all: tokens stop working at once."""

import pytest
from sqlalchemy import select

from authapi import db
from authapi.models import AuditEvent
from conftest import PASSWORD, PROBLEM, assert_problem, bearer


def me(client, pair):
    return client.get("/auth/me", headers=bearer(pair["access_token"]))


def refresh(client, pair):
    return client.post("/auth/refresh", headers=bearer(pair["refresh_token"]))


def assert_revoked(response):
    assert response.status_code == 401
    assert response.content_type == PROBLEM
    assert response.get_json()["code"] == "token_revoked"
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def logout(client, pair, path="/auth/logout"):
    return client.post(path, headers=bearer(pair["access_token"]))


def test_logout_answers_204_with_no_body(client, make_user, login):
    response = logout(client, login(make_user()))
    assert response.status_code == 204
    assert response.get_data() == b""


def test_logout_revokes_the_access_token_at_once(client, make_user, login):
    pair = login(make_user())
    assert me(client, pair).status_code == 200
    logout(client, pair)
    assert_revoked(me(client, pair))


def test_logout_revokes_the_refresh_token_at_once(client, make_user, login):
    pair = login(make_user())
    logout(client, pair)
    assert_revoked(refresh(client, pair))


def test_logout_revokes_access_tokens_minted_by_refresh(client, make_user, login):
    pair = login(make_user())
    newer = refresh(client, pair).get_json()
    logout(client, pair)
    assert_revoked(me(client, newer))
    assert_revoked(refresh(client, newer))


def test_logout_keeps_the_users_other_sessions(client, make_user, login):
    user_id = make_user()
    pair, other = login(user_id), login(user_id)
    logout(client, pair)
    assert me(client, other).status_code == 200


def test_logout_twice_is_refused(client, make_user, login):
    pair = login(make_user())
    logout(client, pair)
    assert_revoked(logout(client, pair))


@pytest.mark.parametrize("path", ["/auth/logout", "/auth/logout-all"])
def test_logout_without_token_is_401_token_missing(client, path):
    response = client.post(path)
    assert_problem(response, 401, "token_missing")
    assert response.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize("path", ["/auth/logout", "/auth/logout-all"])
def test_logout_with_a_refresh_token_is_refused(client, make_user, login, path):
    pair = login(make_user())
    response = client.post(path, headers=bearer(pair["refresh_token"]))
    assert response.status_code == 401
    assert response.get_json()["code"] == "token_invalid"
    assert me(client, pair).status_code == 200


def test_logout_is_audited(app, client, make_user, login):
    user_id = make_user()
    logout(client, login(user_id))
    with app.app_context():
        events = list(db.orm().scalars(
            select(AuditEvent).where(AuditEvent.event == "logout")))
    assert [event.user_id for event in events] == [user_id]


def test_logout_all_answers_204(client, make_user, login):
    response = logout(client, login(make_user()), "/auth/logout-all")
    assert response.status_code == 204
    assert response.get_data() == b""


def test_logout_all_revokes_every_session_of_the_user(client, make_user, login):
    user_id = make_user()
    sessions = [login(user_id) for _ in range(3)]
    logout(client, sessions[0], "/auth/logout-all")
    for pair in sessions:
        assert_revoked(me(client, pair))
        assert_revoked(refresh(client, pair))


def test_logout_all_spares_other_users(client, make_user, login):
    mine, theirs = login(make_user()), login(make_user())
    logout(client, mine, "/auth/logout-all")
    assert me(client, theirs).status_code == 200
    assert refresh(client, theirs).status_code == 200


def test_user_can_log_in_again_after_logout_all(client, make_user, login):
    user_id = make_user(email="again@example.com")
    logout(client, login(user_id), "/auth/logout-all")
    response = client.post("/auth/login", json={"email": "again@example.com",
                                                "password": PASSWORD})
    assert response.status_code == 200
    assert me(client, response.get_json()).status_code == 200


def test_cookie_logout_without_csrf_header_is_refused(client, make_user):
    make_user(email="c@example.com")
    client.post("/auth/login", json={"email": "c@example.com", "password": PASSWORD,
                                     "use_cookies": True})
    response = client.post("/auth/logout")
    assert response.status_code == 401
    assert response.get_json()["code"] == "csrf_failed"


def test_cookie_logout_with_csrf_header_revokes_the_session(client, make_user):
    make_user(email="c@example.com")
    body = client.post("/auth/login", json={"email": "c@example.com", "password": PASSWORD,
                                            "use_cookies": True}).get_json()
    csrf = client.get_cookie("csrf_refresh_token").value
    assert client.post("/auth/logout", headers={"X-CSRF-TOKEN": csrf}).status_code == 204
    assert_revoked(me(client, body))
