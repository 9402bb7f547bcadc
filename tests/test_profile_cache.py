"""/auth/me from a per-process profile cache (issue 23 item 2), never stale past the
revocation feed's bound: each change a profile shows is seen at once by the instance
that made it and by a second instance on the same database once it reads the feed."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from authapi import db
from authapi.accounts import users
from authapi.admin import roles
from authapi.models import User
from conftest import bearer

POLLING = {"AUTHAPI_REVOCATION_POLL_INTERVAL": 0}


@pytest.fixture
def reads(monkeypatch) -> list[str]:
    """The user ids whose profile was read from the database."""
    seen: list[str] = []
    real = users.profile

    def counted(user_id: str):
        seen.append(user_id)
        return real(user_id)

    monkeypatch.setattr(users, "profile", counted)
    return seen


@pytest.fixture
def admin(make_user, login) -> dict[str, str]:
    return bearer(login(make_user(roles=("admin",)))["access_token"])


def me(client, headers) -> dict:
    response = client.get("/auth/me", headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_auth_me_reads_the_database_once(client, make_user, login, reads):
    user_id = make_user()
    headers = bearer(login(user_id)["access_token"])
    first, second = me(client, headers), me(client, headers)
    assert first == second and first["id"] == user_id
    assert reads.count(user_id) == 1


def test_the_cached_body_is_what_the_schema_and_jsonify_write(app, client, make_user, login,
                                                            reads):
    """The cache keeps /auth/me's rendered body: the second answer renders nothing
    and reads nothing, and both are byte for byte the UserSchema dump that
    @bp.response would have written."""
    from flask import jsonify

    from authapi.web.schemas import UserSchema

    user_id = make_user(roles=("admin",))
    headers = bearer(login(user_id)["access_token"])
    first = client.get("/auth/me", headers=headers)
    second = client.get("/auth/me", headers=headers)
    with app.app_context():
        expected = jsonify(UserSchema().dump(users.profile(user_id))).get_data()
    assert first.get_data() == second.get_data() == expected
    assert first.mimetype == second.mimetype == "application/json"
    assert reads.count(user_id) == 2  # the first answer's, and this test's own


@pytest.mark.parametrize("instance", ["same", "second"])
def test_an_admin_change_is_seen_at_once(client, make_app, make_user, login, admin, instance):
    user_id = make_user()
    headers = bearer(login(user_id)["access_token"])
    reader = client if instance == "same" else make_app(**POLLING).test_client()
    assert me(reader, headers)["display_name"] is None
    response = client.patch(f"/admin/users/{user_id}", headers=admin,
                            json={"display_name": "Ada", "email_verified": True})
    assert response.status_code == 200, response.get_json()
    shown = me(reader, headers)
    assert shown["display_name"] == "Ada" and shown["email_verified"] is True


@pytest.mark.parametrize("instance", ["same", "second"])
def test_a_roles_permissions_change_reaches_its_holders(app, client, make_app, make_user, login,
                                                         admin, instance):
    with app.app_context():
        roles.create("notes", ["notes:read"])
        db.orm().commit()
    user_id = make_user(roles=("user", "notes"))
    reader = client if instance == "same" else make_app(**POLLING).test_client()
    assert me(reader, bearer(login(user_id)["access_token"]))["scope"] == "notes:read"
    response = client.patch("/admin/roles/notes", headers=admin,
                            json={"permissions": ["notes:read", "notes:write"]})
    assert response.status_code == 200, response.get_json()
    # Its holders' tokens issued before the change stop working: a new one shows it.
    assert me(reader, bearer(login(user_id)["access_token"]))["scope"] == \
        "notes:read notes:write"


def test_a_core_statement_on_the_users_table_drops_the_cache(app, client, make_user, login):
    user_id = make_user()
    headers = bearer(login(user_id)["access_token"])
    assert me(client, headers)["mfa_enabled"] is False
    with app.app_context():
        db.orm().execute(update(User).where(User.id == user_id).values(mfa_enabled=True))
        db.orm().commit()
    assert me(client, headers)["mfa_enabled"] is True


def test_a_rolled_back_change_drops_nothing(app, client, make_user, login, reads):
    user_id = make_user()
    headers = bearer(login(user_id)["access_token"])
    me(client, headers)
    with app.app_context():
        db.orm().get(User, user_id).display_name = "Not kept"
        db.orm().flush()
        db.orm().rollback()
    assert me(client, headers)["display_name"] is None
    assert reads.count(user_id) == 1


def test_a_profile_read_while_a_change_lands_is_not_kept(app, client, make_user, login,
                                                         monkeypatch):
    user_id = make_user()
    headers = bearer(login(user_id)["access_token"])
    real = users.profile

    def racing(uid: str):
        stale = real(uid)
        with app.app_context():  # another request commits a change meanwhile
            db.orm().get(User, uid).display_name = "New"
            db.orm().commit()
        return stale

    monkeypatch.setattr(users, "profile", racing)
    assert me(client, headers)["display_name"] is None  # what it read, this once
    monkeypatch.setattr(users, "profile", real)
    assert me(client, headers)["display_name"] == "New"  # not the stale copy
