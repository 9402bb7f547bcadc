"""/admin/users: list, show, change, delete, roles; every token dies on disable or delete."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import assert_problem, bearer


@pytest.fixture
def admin(make_user, login):
    """An admin's id and headers."""
    user_id = make_user(email="boss@example.com", roles=("admin",))
    return user_id, bearer(login(user_id)["access_token"])


def test_list_is_a_page_of_users(client, admin, make_user):
    make_user(email="ada@example.com")
    body = client.get("/admin/users", headers=admin[1]).get_json()
    assert {"items", "page", "per_page", "total"} <= set(body)
    assert body["total"] == 2
    assert [u["email"] for u in body["items"]] == ["boss@example.com", "ada@example.com"]
    assert body["items"][0]["roles"] == ["admin"] and body["items"][0]["disabled"] is False


@pytest.mark.parametrize(("q", "expected"), [
    ("ADA", ["ada@example.com"]), ("lovelace", ["ada@example.com"]), ("%", []), ("_", []),
    ("example.com", ["boss@example.com", "ada@example.com"]),
])
def test_list_searches_email_and_display_name(client, admin, make_user, q, expected):
    make_user(email="ada@example.com", display_name="Ada Lovelace")
    body = client.get("/admin/users", query_string={"q": q}, headers=admin[1]).get_json()
    assert [u["email"] for u in body["items"]] == expected


def test_per_page_is_capped_at_100(client, admin):
    body = client.get("/admin/users?per_page=1000&page=2", headers=admin[1]).get_json()
    assert (body["per_page"], body["page"], body["items"]) == (100, 2, [])


def test_list_paginates(client, admin, make_user):
    for _ in range(3):
        make_user()
    body = client.get("/admin/users?per_page=2&page=2", headers=admin[1]).get_json()
    assert (body["total"], len(body["items"])) == (4, 2)


@pytest.mark.parametrize("user_id", ["nope", "00000000-0000-0000-0000-000000000000", "a%00b"])
def test_unknown_user_is_404(client, admin, user_id):
    assert_problem(client.get(f"/admin/users/{user_id}", headers=admin[1]), 404, "not_found")


def test_patch_changes_display_name_and_verified(client, admin, make_user):
    user_id = make_user()
    response = client.patch(f"/admin/users/{user_id}", headers=admin[1],
                            json={"display_name": "Grace", "email_verified": True})
    assert response.status_code == 200
    assert (response.get_json()["display_name"], response.get_json()["email_verified"]) == (
        "Grace", True)


@pytest.mark.parametrize("body", [{"email": "x@example.com"}, {"roles": ["admin"]},
                                  {"disabled": "maybe"}, {"password": "x"}])
def test_patch_refuses_other_fields(client, admin, make_user, body):
    response = client.patch(f"/admin/users/{make_user()}", headers=admin[1], json=body)
    assert_problem(response, 422, "validation_error")


@pytest.mark.parametrize("action", ["disable", "delete"])
def test_disable_or_delete_kills_every_token(client, admin, make_user, login, action):
    user_id = make_user()
    pairs = [login(user_id), login(user_id)]
    if action == "disable":
        response = client.patch(f"/admin/users/{user_id}", json={"disabled": True},
                                headers=admin[1])
    else:
        response = client.delete(f"/admin/users/{user_id}", headers=admin[1])
    assert response.status_code == (200 if action == "disable" else 204)
    for pair in pairs:
        assert_problem(client.get("/auth/me", headers=bearer(pair["access_token"])),
                       401, "token_revoked")
        assert client.post("/auth/refresh", headers=bearer(pair["refresh_token"])).status_code in (
            401, 403)


def test_disabled_user_cannot_log_in_until_enabled(client, admin, make_user, login):
    user_id = make_user(email="off@example.com")
    client.patch(f"/admin/users/{user_id}", json={"disabled": True}, headers=admin[1])
    credentials = {"email": "off@example.com", "password": "correct horse battery staple"}
    assert_problem(client.post("/auth/login", json=credentials), 403, "account_disabled")
    client.patch(f"/admin/users/{user_id}", json={"disabled": False}, headers=admin[1])
    assert client.post("/auth/login", json=credentials).status_code == 200


def test_deleted_user_is_gone(client, admin, make_user):
    user_id = make_user()
    assert client.delete(f"/admin/users/{user_id}", headers=admin[1]).status_code == 204
    assert_problem(client.get(f"/admin/users/{user_id}", headers=admin[1]), 404, "not_found")


def test_role_change_voids_access_but_refresh_carries_new_roles(client, admin, make_user, login):
    user_id = make_user()
    pair = login(user_id)
    response = client.put(f"/admin/users/{user_id}/roles", json={"roles": ["user", "admin"]},
                          headers=admin[1])
    assert response.get_json()["roles"] == ["admin", "user"]
    assert_problem(client.get("/auth/me", headers=bearer(pair["access_token"])),
                   401, "token_revoked")
    fresh = client.post("/auth/refresh", headers=bearer(pair["refresh_token"])).get_json()
    me = client.get("/auth/me", headers=bearer(fresh["access_token"])).get_json()
    assert me["roles"] == ["admin", "user"] and "users:read" in me["scope"]


@pytest.mark.parametrize("roles", [["nope"], ["user", "ghost"]])
def test_unknown_role_is_422(client, admin, make_user, roles):
    response = client.put(f"/admin/users/{make_user()}/roles", json={"roles": roles},
                          headers=admin[1])
    assert "roles" in assert_problem(response, 422, "validation_error")["errors"]


@pytest.mark.parametrize(("method", "path", "body"), [
    ("patch", "/admin/users/{id}", {"disabled": True}),
    ("delete", "/admin/users/{id}", None),
    ("put", "/admin/users/{id}/roles", {"roles": ["user"]}),
    ("put", "/admin/users/{id}/roles", {"roles": []}),
])
def test_the_last_admin_cannot_remove_themself(client, admin, method, path, body):
    response = getattr(client, method)(path.format(id=admin[0]), json=body, headers=admin[1])
    assert_problem(response, 409, "conflict")
    assert client.get("/auth/me", headers=admin[1]).get_json()["roles"] == ["admin"]


def test_a_disabled_admin_does_not_count(client, admin, make_user):
    make_user(roles=("admin",), disabled=True)
    response = client.delete(f"/admin/users/{admin[0]}", headers=admin[1])
    assert_problem(response, 409, "conflict")


def test_with_two_admins_one_may_step_down(client, admin, make_user):
    make_user(roles=("admin",))
    response = client.put(f"/admin/users/{admin[0]}/roles", json={"roles": ["user"]},
                          headers=admin[1])
    assert response.status_code == 200
    assert_problem(client.get("/auth/me", headers=admin[1]), 401, "token_revoked")


def test_admins_disabling_themselves_at_once_leave_exactly_one(app, make_user, login):
    ids = [make_user(roles=("admin",)) for _ in range(4)]
    headers = [bearer(login(user_id)["access_token"]) for user_id in ids]
    barrier = threading.Barrier(len(ids))

    def disable_self(index: int) -> int:
        client = app.test_client()
        barrier.wait(timeout=30)
        return client.patch(f"/admin/users/{ids[index]}", json={"disabled": True},
                            headers=headers[index]).status_code

    with ThreadPoolExecutor(max_workers=len(ids)) as pool:
        statuses = sorted(pool.map(disable_self, range(len(ids))))
    assert statuses == [200, 200, 200, 409]


def test_a_bad_list_item_is_named_by_its_path(client, admin, make_user):
    response = client.put(f"/admin/users/{make_user()}/roles", json={"roles": ["user", "x" * 65]},
                          headers=admin[1])
    assert assert_problem(response, 422, "validation_error")["errors"] == {
        "roles.1": ["Length must be between 1 and 64."]}
