"""The real `authapi` console script, run as a separate process against a fresh database."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from authapi import db
from authapi.accounts import accounts
from authapi.db import utcnow
from authapi.models import RevokedToken, UserSession
from conftest import PASSWORD, bearer
from fixtures.databases import query


def test_db_upgrade_creates_the_schema(cli, empty_database_url):
    result = cli("db", "upgrade", env={"AUTHAPI_DATABASE_URL": empty_database_url})
    assert result.returncode == 0, result.stderr
    assert "up to date" in result.stdout
    assert query(empty_database_url, "SELECT COUNT(*) FROM users") == [(0,)]


def test_db_upgrade_seeds_roles_and_a_signing_key(upgraded):
    assert sorted(query(upgraded, "SELECT name FROM roles")) == [("admin",), ("user",)]
    assert query(upgraded, "SELECT algorithm FROM signing_keys WHERE retired_at IS NULL") == [
        ("RS256",)]


def test_users_create_makes_an_admin_who_can_log_in(cli, upgraded, make_app):
    result = cli("users", "create", "--email", "Root@Example.com", "--role", "admin",
                 "--password-stdin", env={"AUTHAPI_DATABASE_URL": upgraded}, stdin=PASSWORD + "\n")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["roles"] == ["admin"]
    client = make_app(AUTHAPI_DATABASE_URL=upgraded).test_client()
    login = client.post("/auth/login", json={"email": "root@example.com", "password": PASSWORD})
    assert login.status_code == 200, login.get_json()
    me = client.get("/auth/me", headers=bearer(login.get_json()["access_token"]))
    assert me.get_json()["roles"] == ["admin"]


@pytest.mark.parametrize("password", ["short", "password", "12345678"])
def test_users_create_refuses_a_weak_password(cli, upgraded, password):
    result = cli("users", "create", "--email", "weak@example.com", "--password-stdin",
                 env={"AUTHAPI_DATABASE_URL": upgraded}, stdin=password + "\n")
    assert result.returncode != 0
    assert "password" in result.stderr.lower()
    assert "Traceback" not in result.stderr
    assert query(upgraded, "SELECT COUNT(*) FROM users") == [(0,)]


def test_keys_rotate_prints_a_new_kid(cli, upgraded):
    [(old_kid,)] = query(upgraded, "SELECT kid FROM signing_keys")
    result = cli("keys", "rotate", env={"AUTHAPI_DATABASE_URL": upgraded})
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)
    assert printed["alg"] == "RS256"
    assert printed["kid"] != old_kid
    active = query(upgraded, "SELECT kid FROM signing_keys WHERE retired_at IS NULL")
    assert active == [(printed["kid"],)]


def test_purge_drops_expired_rows_and_keeps_live_ones(cli, upgraded, make_app):
    past, future = utcnow() - timedelta(hours=1), utcnow() + timedelta(hours=1)
    with make_app(AUTHAPI_DATABASE_URL=upgraded).app_context():
        user = accounts.create("purge@example.com", PASSWORD)
        db.orm().add_all([
            UserSession(id="s-expired", user_id=user.id, refresh_jti="r1", expires_at=past),
            UserSession(id="s-live", user_id=user.id, refresh_jti="r2", expires_at=future),
            RevokedToken(jti="j-expired", expires_at=past),
            RevokedToken(jti="j-live", expires_at=future),
        ])
        db.orm().commit()
    result = cli("purge", env={"AUTHAPI_DATABASE_URL": upgraded})
    assert result.returncode == 0, result.stderr
    assert query(upgraded, "SELECT id FROM sessions") == [("s-live",)]
    assert query(upgraded, "SELECT jti FROM revoked_tokens") == [("j-live",)]


def test_serve_runs_on_a_fresh_instance_folder(serve, tmp_path):
    server = serve("--workers", "1", env={"AUTHAPI_INSTANCE_PATH": None}, cwd=tmp_path)
    credentials = {"email": "live@example.com", "password": PASSWORD}
    status, user = server.request("POST", "/auth/register", credentials)
    assert status == 201, user
    status, pair = server.request("POST", "/auth/login", credentials)
    assert status == 200, pair
    status, me = server.request("GET", "/auth/me", token=pair["access_token"])
    assert (status, me["id"]) == (200, user["id"])
    assert (tmp_path / "instance" / "authapi.db").is_file()


@pytest.mark.parametrize("command", [("purge",), ("keys", "rotate"), ("users", "list"),
                                     ("users", "disable", "--email", "a@example.com")])
def test_a_database_not_migrated_yet_is_a_one_line_message(cli, empty_database_url, command):
    """Found by a review: each printed SQLAlchemy's traceback (no such table)."""
    result = cli(*command, env={"AUTHAPI_DATABASE_URL": empty_database_url})
    assert result.returncode != 0
    assert "authapi db upgrade" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("email", ["notanemail", "a" * 400 + "@example.com"])
def test_users_create_applies_the_apis_address_rules(cli, upgraded, email):
    result = cli("users", "create", "--email", email, "--password-stdin",
                 env={"AUTHAPI_DATABASE_URL": upgraded}, stdin="a long enough passphrase\n")
    assert result.returncode != 0
    assert "--email" in result.stderr and "Traceback" not in result.stderr
    assert query(upgraded, "SELECT COUNT(*) FROM users") == [(0,)]
