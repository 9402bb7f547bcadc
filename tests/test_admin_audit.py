"""/admin/audit: the contract's events with ip, agent, actor and target; filters; read-only;
and no password, token or secret ever stored."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine, text

from conftest import PASSWORD, assert_problem, bearer

AGENT = {"User-Agent": "walkthrough/1.0"}
NEW_PASSWORD = "another horse battery staple"


@pytest.fixture
def admin(make_user, login):
    """An admin's id and headers."""
    user_id = make_user(email="boss@example.com", roles=("admin",))
    return user_id, {**bearer(login(user_id)["access_token"]), **AGENT}


@pytest.fixture
def walkthrough(client, admin, app):
    """A user's life through the API; returns every secret it handled, and the user's id."""
    credentials = {"email": "ada@example.com", "password": PASSWORD}
    user_id = client.post("/auth/register", json=credentials, headers=AGENT).get_json()["id"]
    client.post("/auth/login", json={**credentials, "password": "wrong password!"}, headers=AGENT)
    first = client.post("/auth/login", json=credentials, headers=AGENT).get_json()
    second = client.post("/auth/refresh", headers={**bearer(first["refresh_token"]), **AGENT})
    client.post("/auth/refresh", headers={**bearer(first["refresh_token"]), **AGENT})  # reuse
    third = client.post("/auth/login", json=credentials, headers=AGENT).get_json()
    client.post("/auth/password", headers={**bearer(third["access_token"]), **AGENT},
                json={"current_password": PASSWORD, "new_password": NEW_PASSWORD})
    client.post("/auth/logout", headers={**bearer(third["access_token"]), **AGENT})
    fourth = client.post("/auth/login", json={**credentials, "password": NEW_PASSWORD},
                         headers=AGENT).get_json()
    client.post("/auth/logout-all", headers={**bearer(fourth["access_token"]), **AGENT})
    client.post("/admin/roles", json={"name": "reporter", "permissions": ["reports:read"]},
                headers=admin[1])
    client.put(f"/admin/users/{user_id}/roles", json={"roles": ["reporter"]}, headers=admin[1])
    client.patch(f"/admin/users/{user_id}", json={"disabled": True}, headers=admin[1])
    secrets = [PASSWORD, NEW_PASSWORD, "wrong password!", app.config["AUTHAPI_SECRET_KEY"]]
    for pair in (first, second.get_json(), third, fourth):
        secrets += [pair["access_token"], pair["refresh_token"]]
        secrets += [part for token in (pair["access_token"], pair["refresh_token"])
                    for part in token.split(".")[1:]]
    return user_id, secrets


def events(client, admin, **query) -> list[dict]:
    return client.get("/admin/audit", query_string={"per_page": 100, **query},
                      headers=admin[1]).get_json()["items"]


@pytest.mark.parametrize("event", [
    "register", "login", "login_failed", "refresh", "token_reused", "logout", "logout_all",
    "password_changed", "roles_changed", "user_disabled", "role_created",
])
def test_walkthrough_records_the_event_with_ip_and_agent(client, admin, walkthrough, event):
    item = events(client, admin, event=event)[0]  # newest: the walk-through's
    assert item["event"] == event
    assert (item["ip"], item["user_agent"]) == ("127.0.0.1", "walkthrough/1.0")
    assert set(item) == {"id", "at", "event", "user_id", "client_id", "ip", "user_agent",
                         "detail"}


@pytest.mark.parametrize("event", ["roles_changed", "user_disabled"])
def test_admin_events_name_actor_and_target(client, admin, walkthrough, event):
    [item] = events(client, admin, event=event)
    assert (item["user_id"], item["detail"]["actor_id"]) == (walkthrough[0], admin[0])


def test_the_table_never_holds_a_password_token_or_secret(client, admin, walkthrough, app):
    engine = create_engine(app.config["AUTHAPI_DATABASE_URL"])
    with engine.connect() as conn:
        dump = "\n".join(repr(tuple(row)) for row in conn.execute(text(
            "SELECT * FROM audit_events")))
    engine.dispose()
    assert dump.count("walkthrough/1.0") > 10
    assert [secret[:12] for secret in walkthrough[1] if secret in dump] == []


def test_newest_first_and_paginated(client, admin, walkthrough):
    items = events(client, admin)
    assert [item["id"] for item in items] == sorted((item["id"] for item in items), reverse=True)
    page = client.get("/admin/audit?per_page=2&page=2", headers=admin[1]).get_json()
    assert [item["id"] for item in page["items"]] == [items[2]["id"], items[3]["id"]]
    assert page["total"] == len(items)


def test_filter_by_user(client, admin, walkthrough):
    items = events(client, admin, user_id=walkthrough[0])
    assert items and {item["user_id"] for item in items} == {walkthrough[0]}


def test_filter_by_time_range(client, admin, walkthrough):
    now = datetime.now(UTC)
    assert events(client, admin, since=(now + timedelta(minutes=5)).isoformat()) == []
    assert events(client, admin, until=(now - timedelta(minutes=5)).isoformat()) == []
    window = {"since": (now - timedelta(minutes=5)).isoformat(),
              "until": (now + timedelta(minutes=5)).isoformat()}
    assert len(events(client, admin, **window)) == len(events(client, admin))


@pytest.mark.parametrize("query", ["since=yesterday", "since=2026-01-01T00:00:00",
                                   "since=0001-01-01T00:00:00%2B01:00", "page=0"])
def test_bad_filters_are_422(client, admin, query):
    assert_problem(client.get(f"/admin/audit?{query}", headers=admin[1]), 422, "validation_error")


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_the_log_is_read_only(client, admin, method):
    assert_problem(getattr(client, method)("/admin/audit", json={}, headers=admin[1]),
                   405, "method_not_allowed")
    assert getattr(client, method)("/admin/audit/1", json={}, headers=admin[1]).status_code == 404
