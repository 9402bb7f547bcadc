"""/admin/roles: CRUD, `resource:action` names, built-ins kept, holders' tokens voided at once."""

from __future__ import annotations

import pytest
from sqlalchemy import event

from authapi import db
from conftest import assert_problem, bearer


@pytest.fixture
def admin(auth_headers):
    """An admin's headers."""
    return auth_headers(("admin",))


def create(client, admin, name="reporter", permissions=("reports:read",)):
    return client.post("/admin/roles", json={"name": name, "permissions": list(permissions)},
                       headers=admin)


def test_list_has_the_builtins(client, admin):
    body = client.get("/admin/roles", headers=admin).get_json()
    assert body["total"] == 2 and body["page"] == 1
    by_name = {role["name"]: role for role in body["items"]}
    assert by_name["user"]["permissions"] == [] and by_name["user"]["builtin"] is True
    assert "audit:read" in by_name["admin"]["permissions"]


def test_create_answers_201_with_the_role(client, admin):
    response = create(client, admin, permissions=["reports:write", "reports:read", "reports:read"])
    assert response.status_code == 201
    body = response.get_json()
    assert (body["name"], body["permissions"], body["builtin"]) == (
        "reporter", ["reports:read", "reports:write"], False)


def test_create_twice_is_409(client, admin):
    create(client, admin)
    assert_problem(create(client, admin), 409, "conflict")


@pytest.mark.parametrize(("name", "permissions", "field"), [
    ("Bad Name", [], "name"), ("a,b", [], "name"), ("", [], "name"),
    ("ok", ["reports"], "permissions"), ("ok", ["reports:read write"], "permissions"),
    ("ok", [":read"], "permissions"), ("ok", ["Reports:Read"], "permissions"),
])
def test_bad_names_are_422(client, admin, name, permissions, field):
    response = create(client, admin, name=name, permissions=permissions)
    assert field in assert_problem(response, 422, "validation_error")["errors"]


def test_unknown_field_is_422(client, admin):
    response = client.post("/admin/roles", json={"name": "x", "builtin": True}, headers=admin)
    assert_problem(response, 422, "validation_error")


@pytest.mark.parametrize("name", ["admin", "user"])
def test_builtins_cannot_be_deleted(client, admin, name):
    assert_problem(client.delete(f"/admin/roles/{name}", headers=admin), 409, "conflict")


@pytest.mark.parametrize("body", [{"permissions": ["x:y"]}, {"name": "root"}])
def test_admin_role_cannot_change(client, admin, body):
    assert_problem(client.patch("/admin/roles/admin", json=body, headers=admin), 409, "conflict")


def test_user_role_cannot_be_renamed(client, admin):
    response = client.patch("/admin/roles/user", json={"name": "member"}, headers=admin)
    assert_problem(response, 409, "conflict")


def test_rename_onto_an_existing_name_is_409(client, admin):
    create(client, admin)
    response = client.patch("/admin/roles/reporter", json={"name": "user"}, headers=admin)
    assert_problem(response, 409, "conflict")


@pytest.mark.parametrize("method", ["patch", "delete"])
def test_unknown_role_is_404(client, admin, method):
    response = getattr(client, method)("/admin/roles/ghost", json={}, headers=admin)
    assert_problem(response, 404, "not_found")


def test_scope_is_the_union_of_role_permissions(client, admin, make_user, login):
    create(client, admin, name="a", permissions=["x:read", "y:read"])
    create(client, admin, name="b", permissions=["y:read", "z:write"])
    token = login(make_user(roles=("a", "b", "user")))["access_token"]
    me = client.get("/auth/me", headers=bearer(token)).get_json()
    assert me["scope"] == "x:read y:read z:write"


@pytest.mark.parametrize(("method", "body"), [
    ("patch", {"permissions": ["reports:read", "reports:write"]}),
    ("patch", {"name": "analyst"}),
    ("delete", None),
])
def test_a_role_change_voids_every_holders_access_tokens(client, admin, make_user, login,
                                                         method, body):
    create(client, admin)
    holders = [login(make_user(roles=("user", "reporter"))) for _ in range(3)]
    bystander = login(make_user())
    response = getattr(client, method)("/admin/roles/reporter", json=body, headers=admin)
    assert response.status_code in (200, 204)
    for pair in holders:
        assert_problem(client.get("/auth/me", headers=bearer(pair["access_token"])),
                       401, "token_revoked")
    assert client.get("/auth/me", headers=bearer(bystander["access_token"])).status_code == 200


def test_after_a_permission_change_the_refresh_carries_the_new_scope(client, admin, make_user,
                                                                    login):
    create(client, admin)
    pair = login(make_user(roles=("reporter",)))
    client.patch("/admin/roles/reporter", json={"permissions": ["reports:write"]}, headers=admin)
    fresh = client.post("/auth/refresh", headers=bearer(pair["refresh_token"]))
    assert fresh.status_code == 200
    me = client.get("/auth/me", headers=bearer(fresh.get_json()["access_token"])).get_json()
    assert (me["roles"], me["scope"]) == (["reporter"], "reports:write")


def test_voiding_holders_is_one_update_however_many_there_are(app, make_user, login):
    from authapi.admin import roles

    def session_updates(count: int) -> tuple[int, int]:
        with app.app_context():
            roles.create(f"r{count}", ["a:b"])
            db.orm().commit()
        for _ in range(count):
            login(make_user(roles=(f"r{count}",)))
        seen: list[str] = []

        def spy(_conn, _cursor, statement, *_rest):
            seen.append(statement.lower())

        with app.app_context():
            event.listen(db.engine(), "before_cursor_execute", spy)
            roles.update(f"r{count}", permissions=["a:c"])
            db.orm().commit()
            event.remove(db.engine(), "before_cursor_execute", spy)
        return len(seen), sum(1 for sql in seen if sql.startswith("update sessions"))

    few, many = session_updates(3), session_updates(30)
    assert few == many and few[1] == 1, (few, many)


@pytest.mark.parametrize("action", ["patch_role", "delete_role", "disable_user", "delete_user"])
def test_a_second_instance_sees_it_at_once(client, admin, make_app, make_user, login, tmp_path,
                                           action):
    other = make_app(AUTHAPI_REVOCATION_POLL_INTERVAL=0,
                     AUTHAPI_INSTANCE_PATH=str(tmp_path / "instance-b")).test_client()
    create(client, admin)
    user_id = make_user(roles=("reporter",))
    token = bearer(login(user_id)["access_token"])
    assert other.get("/auth/me", headers=token).status_code == 200
    response = {
        "patch_role": lambda: client.patch("/admin/roles/reporter", json={"permissions": []},
                                           headers=admin),
        "delete_role": lambda: client.delete("/admin/roles/reporter", headers=admin),
        "disable_user": lambda: client.patch(f"/admin/users/{user_id}", json={"disabled": True},
                                             headers=admin),
        "delete_user": lambda: client.delete(f"/admin/users/{user_id}", headers=admin),
    }[action]()
    assert response.status_code in (200, 204)
    assert_problem(other.get("/auth/me", headers=token), 401, "token_revoked")


@pytest.mark.parametrize("body", [{}, {"permissions": ["reports:read"]}, {"name": "reporter"}])
def test_a_patch_that_changes_nothing_voids_nothing(client, admin, make_user, login, body):
    create(client, admin)
    pair = login(make_user(roles=("reporter",)))
    assert client.patch("/admin/roles/reporter", json=body, headers=admin).status_code == 200
    assert client.get("/auth/me", headers=bearer(pair["access_token"])).status_code == 200
