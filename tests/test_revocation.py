"""Revocation: role changes, disabled users, and other instances sharing the database."""

from __future__ import annotations

import time

import jwt
import pytest
from sqlalchemy import select

from authapi import db
from authapi.models import Role, User
from authapi.sessions import sessions
from conftest import PASSWORD, assert_problem, bearer

INVALID_TOKEN = 'Bearer error="invalid_token"'
NEW_PASSWORD = "an entirely different passphrase"


def change_roles(app, user_id: str, names: list[str]) -> None:
    """What an admin's role change does: new roles, and earlier access tokens voided."""
    with app.app_context():
        user = db.orm().get(User, user_id)
        user.roles = list(db.orm().scalars(select(Role).where(Role.name.in_(names))))
        sessions.void_access_tokens(user_id)
        db.orm().commit()


@pytest.fixture
def user_id(make_user) -> str:
    return make_user()


def test_role_change_revokes_earlier_access_tokens(app, client, user_id, login):
    pair = login(user_id)
    change_roles(app, user_id, ["admin", "user"])
    response = client.get("/auth/me", headers=bearer(pair["access_token"]))
    assert_problem(response, 401, "token_revoked")
    assert response.headers["WWW-Authenticate"] == INVALID_TOKEN


def test_role_change_keeps_the_refresh_token_which_brings_new_roles(app, client, user_id, login):
    pair = login(user_id)
    change_roles(app, user_id, ["admin", "user"])
    response = client.post("/auth/refresh", headers=bearer(pair["refresh_token"]))
    assert response.status_code == 200, response.get_json()
    claims = jwt.decode(response.get_json()["access_token"], options={"verify_signature": False})
    assert claims["roles"] == ["admin", "user"]
    assert "users:write" in claims["scope"].split()
    me = client.get("/auth/me", headers=bearer(response.get_json()["access_token"]))
    assert me.status_code == 200


def test_disabled_user_cannot_refresh(app, client, user_id, login):
    pair = login(user_id)
    with app.app_context():
        db.orm().get(User, user_id).disabled = True
        db.orm().commit()
    response = client.post("/auth/refresh", headers=bearer(pair["refresh_token"]))
    assert_problem(response, 403, "account_disabled")


# --- A second instance on the same database, with its own in-process cache ---------------

SECOND_INSTANCE = {
    "shared_folder_no_polling": lambda tmp: {"AUTHAPI_REVOCATION_POLL_INTERVAL": 3600},
    "shared_folder_polling": lambda tmp: {"AUTHAPI_REVOCATION_POLL_INTERVAL": 0},
    "own_folder_polling": lambda tmp: {"AUTHAPI_REVOCATION_POLL_INTERVAL": 0,
                                       "AUTHAPI_INSTANCE_PATH": str(tmp / "instance-b")},
}


def revoke_on(client, action: str, pair: dict, login, user_id: str) -> None:
    """Revoke `pair`'s session through the first instance, as a user would."""
    auth = bearer(pair["access_token"])
    if action == "logout":
        response = client.post("/auth/logout", headers=auth)
    elif action == "logout_all":
        response = client.post("/auth/logout-all", headers=auth)
    elif action == "delete_session":
        sid = jwt.decode(pair["access_token"], options={"verify_signature": False})["sid"]
        response = client.delete(f"/auth/sessions/{sid}", headers=auth)
    else:  # a password change elsewhere revokes every other session
        response = client.post("/auth/password", headers=bearer(login(user_id)["access_token"]),
                               json={"current_password": PASSWORD, "new_password": NEW_PASSWORD})
    assert response.status_code == 204, response.get_json()


@pytest.mark.parametrize("second", SECOND_INSTANCE)
@pytest.mark.parametrize("kind", ["access", "refresh"])
def test_logout_is_seen_by_a_second_instance(client, make_app, user_id, login, tmp_path,
                                             second, kind):
    other = make_app(**SECOND_INSTANCE[second](tmp_path)).test_client()
    pair = login(user_id)
    assert other.get("/auth/me", headers=bearer(pair["access_token"])).status_code == 200
    revoke_on(client, "logout", pair, login, user_id)
    if kind == "access":
        response = other.get("/auth/me", headers=bearer(pair["access_token"]))
    else:
        response = other.post("/auth/refresh", headers=bearer(pair["refresh_token"]))
    assert_problem(response, 401, "token_revoked")


@pytest.mark.parametrize("action", ["logout_all", "delete_session", "password_change"])
def test_every_revocation_is_seen_by_a_second_instance(client, make_app, user_id, login,
                                                       tmp_path, action):
    other = make_app(**SECOND_INSTANCE["own_folder_polling"](tmp_path)).test_client()
    pair = login(user_id)
    assert other.get("/auth/me", headers=bearer(pair["access_token"])).status_code == 200
    revoke_on(client, action, pair, login, user_id)
    assert_problem(other.get("/auth/me", headers=bearer(pair["access_token"])),
                   401, "token_revoked")


def test_role_change_is_seen_by_a_second_instance(app, make_app, user_id, login, tmp_path):
    other = make_app(**SECOND_INSTANCE["own_folder_polling"](tmp_path)).test_client()
    pair = login(user_id)
    assert other.get("/auth/me", headers=bearer(pair["access_token"])).status_code == 200
    change_roles(app, user_id, ["admin", "user"])
    assert_problem(other.get("/auth/me", headers=bearer(pair["access_token"])),
                   401, "token_revoked")


# --- Two real server processes ------------------------------------------------------------

def test_logout_reaches_another_process_within_a_second(serve, empty_database_url, tmp_path):
    shared = {"AUTHAPI_DATABASE_URL": empty_database_url}
    first = serve("--workers", "1", "--migrate",
                  env={**shared, "AUTHAPI_INSTANCE_PATH": str(tmp_path / "a")})
    second = serve("--workers", "1", env={**shared, "AUTHAPI_INSTANCE_PATH": str(tmp_path / "b")})
    credentials = {"email": "two@example.com", "password": PASSWORD}
    assert first.request("POST", "/auth/register", credentials)[0] == 201
    token = first.request("POST", "/auth/login", credentials)[1]["access_token"]
    assert second.request("GET", "/auth/me", token=token)[0] == 200
    assert first.request("POST", "/auth/logout", token=token)[0] == 204
    start = time.monotonic()
    while (answer := second.request("GET", "/auth/me", token=token))[0] == 200:
        assert time.monotonic() - start < 5, "the second process never saw the logout"
        time.sleep(0.01)
    elapsed = time.monotonic() - start
    assert (answer[0], answer[1]["code"]) == (401, "token_revoked")
    assert elapsed < 1.0, elapsed


def test_a_sessionless_token_is_revoked_by_its_jti(app, client, make_user):
    """Tokens without a session (services) are revoked one by one, by jti."""
    from datetime import UTC, datetime, timedelta

    from authapi.tokens import revocation, tokens

    user_id = make_user()
    with app.test_request_context():
        token = tokens.issue_access(tokens.Subject(sub=user_id, roles=[], scope=""), None)
        jti = tokens.decode(token, tokens.ACCESS)["jti"]
    assert client.get("/auth/check", headers=bearer(token)).status_code == 200
    with app.app_context():
        revocation.revoke_jti(db.orm(), jti, datetime.now(UTC) + timedelta(minutes=15))
        db.orm().commit()
    assert_problem(client.get("/auth/check", headers=bearer(token)), 401, "token_revoked")
