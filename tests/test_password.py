"""POST /auth/password: change a password, keep this session, end every other one."""

import pytest

from conftest import PASSWORD, assert_problem, bearer

NEW_PASSWORD = "a brand new passphrase 42"
EMAIL = "pw@example.com"


def change(client, pair, current=PASSWORD, new=NEW_PASSWORD):
    return client.post("/auth/password", headers=bearer(pair["access_token"]),
                       json={"current_password": current, "new_password": new})


def login_status(client, password):
    return client.post("/auth/login", json={"email": EMAIL, "password": password}).status_code


@pytest.fixture
def user_id(make_user):
    return make_user(email=EMAIL)


def test_password_change_answers_204(client, user_id, login):
    response = change(client, login(user_id))
    assert response.status_code == 204
    assert response.get_data() == b""


def test_wrong_current_password_is_401_invalid_credentials(client, user_id, login):
    response = change(client, login(user_id), current="not my password at all")
    assert_problem(response, 401, "invalid_credentials")
    assert login_status(client, PASSWORD) == 200


def test_wrong_current_password_does_not_change_the_password(client, user_id, login):
    change(client, login(user_id), current="not my password at all")
    assert login_status(client, NEW_PASSWORD) == 401


@pytest.mark.parametrize("new", ["short", "password123", "iloveyou", "x" * 1025])
def test_weak_new_password_is_422_weak_password(client, user_id, login, new):
    assert_problem(change(client, login(user_id), new=new), 422, "weak_password")
    assert login_status(client, PASSWORD) == 200


def test_password_change_revokes_other_sessions(client, user_id, login):
    other, pair = login(user_id), login(user_id)
    change(client, pair)
    assert_problem(client.get("/auth/me", headers=bearer(other["access_token"])),
                   401, "token_revoked")
    assert_problem(client.post("/auth/refresh", headers=bearer(other["refresh_token"])),
                   401, "token_revoked")


def test_password_change_keeps_the_current_session(client, user_id, login):
    pair = login(user_id)
    change(client, pair)
    assert client.get("/auth/me", headers=bearer(pair["access_token"])).status_code == 200
    response = client.post("/auth/refresh", headers=bearer(pair["refresh_token"]))
    assert response.status_code == 200


def test_new_password_logs_in_and_old_does_not(client, user_id, login):
    change(client, login(user_id))
    assert login_status(client, NEW_PASSWORD) == 200
    assert login_status(client, PASSWORD) == 401


def test_password_change_needs_an_access_token(client):
    response = client.post("/auth/password",
                           json={"current_password": PASSWORD, "new_password": NEW_PASSWORD})
    assert_problem(response, 401, "token_missing")
    assert response.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize("body", [
    {"current_password": PASSWORD},
    {"new_password": NEW_PASSWORD},
    {"current_password": PASSWORD, "new_password": NEW_PASSWORD, "email": "x@example.com"},
    {"current_password": PASSWORD, "new_password": 12345678},
])
def test_password_change_refuses_bad_bodies(client, user_id, login, body):
    pair = login(user_id)
    response = client.post("/auth/password", headers=bearer(pair["access_token"]), json=body)
    assert_problem(response, 422, "validation_error")
    assert response.get_json()["errors"]
