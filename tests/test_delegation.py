"""Nobody grants what they do not hold (issue 20): roles, permissions and client scopes.

The probe's reproductions: with `users:write` a user gave their own account `admin`;
with `roles:write` a user added permissions to a role they hold and to the built-in
`user` role; with `clients:write` a user created a client with every admin permission.
Each is 403 `insufficient_scope` now, and nothing changes.
"""

from __future__ import annotations

import pytest

from authapi import db
from authapi.models import Client, Role
from conftest import PASSWORD, assert_problem, bearer


@pytest.fixture
def admin(auth_headers):
    return auth_headers(("admin",))


@pytest.fixture
def role(client, admin):
    """Create a role through the API as the admin; returns its name."""
    def create(name: str, *permissions: str) -> str:
        response = client.post("/admin/roles", json={"name": name,
                                                     "permissions": list(permissions)},
                               headers=admin)
        assert response.status_code == 201, response.get_json()
        return name
    return create


@pytest.fixture
def holder(make_user, login):
    """A user holding `roles`; returns (user id, headers)."""
    def make(*roles: str) -> tuple[str, dict[str, str]]:
        user = make_user(roles=("user", *roles))
        return user, bearer(login(user, PASSWORD)["access_token"])
    return make


def roles_of(client, admin, user_id):
    return sorted(client.get(f"/admin/users/{user_id}", headers=admin).get_json()["roles"])


def test_users_write_cannot_give_its_own_account_admin(client, admin, role, holder):
    user, headers = holder(role("user-admin", "users:write"))
    response = client.put(f"/admin/users/{user}/roles",
                          json={"roles": ["user", "user-admin", "admin"]}, headers=headers)
    assert_problem(response, 403, "insufficient_scope")
    assert response.headers["WWW-Authenticate"].startswith('Bearer error="insufficient_scope"')
    assert roles_of(client, admin, user) == ["user", "user-admin"]


def test_users_write_cannot_give_a_role_with_permissions_it_lacks(client, admin, role, holder,
                                                                  make_user):
    _, headers = holder(role("user-admin", "users:write"))
    auditor = role("auditor", "audit:read")
    other = make_user()
    response = client.put(f"/admin/users/{other}/roles", json={"roles": ["user", auditor]},
                          headers=headers)
    assert_problem(response, 403, "insufficient_scope")
    assert roles_of(client, admin, other) == ["user"]


def test_users_write_cannot_take_a_role_with_permissions_it_lacks(client, admin, role, holder,
                                                                  make_user):
    _, headers = holder(role("user-admin", "users:write"))
    other = make_user(roles=("user", role("auditor", "audit:read")))
    response = client.put(f"/admin/users/{other}/roles", json={"roles": ["user"]},
                          headers=headers)
    assert_problem(response, 403, "insufficient_scope")
    assert roles_of(client, admin, other) == ["auditor", "user"]


def test_a_role_whose_permissions_the_caller_holds_can_be_given(client, admin, role, holder,
                                                                make_user):
    _, headers = holder(role("lead", "users:write", "reports:read"))
    reporter, other = role("reporter", "reports:read"), make_user()
    response = client.put(f"/admin/users/{other}/roles", json={"roles": ["user", reporter]},
                          headers=headers)
    assert response.status_code == 200, response.get_json()
    assert roles_of(client, admin, other) == ["reporter", "user"]


def test_an_admin_can_give_admin(client, admin, make_user):
    other = make_user()
    response = client.put(f"/admin/users/{other}/roles", json={"roles": ["user", "admin"]},
                          headers=admin)
    assert response.status_code == 200, response.get_json()


@pytest.mark.parametrize("target", ["own", "user"])
def test_roles_write_cannot_add_a_permission_it_lacks(client, app, role, holder, target):
    own = role("role-admin", "roles:write")
    _, headers = holder(own)
    name = own if target == "own" else "user"
    current = ["roles:write"] if target == "own" else []
    response = client.patch(f"/admin/roles/{name}",
                            json={"permissions": [*current, "users:write"]}, headers=headers)
    assert_problem(response, 403, "insufficient_scope")
    with app.app_context():
        stored = db.orm().query(Role).filter_by(name=name).one().permissions
    assert sorted(stored) == current


def test_roles_write_cannot_create_a_role_with_permissions_it_lacks(client, app, role, holder):
    _, headers = holder(role("role-admin", "roles:write"))
    response = client.post("/admin/roles", json={"name": "boss", "permissions": ["audit:read"]},
                           headers=headers)
    assert_problem(response, 403, "insufficient_scope")
    with app.app_context():
        assert db.orm().query(Role).filter_by(name="boss").one_or_none() is None


def test_roles_write_can_add_a_permission_it_holds(client, role, holder):
    own = role("role-admin", "roles:write", "reports:read")
    _, headers = holder(own)
    reporter = role("reporter")
    response = client.patch(f"/admin/roles/{reporter}", json={"permissions": ["reports:read"]},
                            headers=headers)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["permissions"] == ["reports:read"]


def test_roles_write_cannot_delete_a_role_it_could_not_give(client, admin, role, holder):
    _, headers = holder(role("role-admin", "roles:write"))
    auditor = role("auditor", "audit:read")
    assert_problem(client.delete(f"/admin/roles/{auditor}", headers=headers),
                   403, "insufficient_scope")
    assert client.get("/admin/roles", headers=admin).get_json()["total"] == 4


def test_clients_write_cannot_create_a_client_wider_than_itself(client, app, role, holder):
    _, headers = holder(role("client-admin", "clients:write", "orders:read"))
    response = client.post("/admin/clients", json={"name": "wide",
                                                   "scope": "orders:read users:write"},
                           headers=headers)
    assert_problem(response, 403, "insufficient_scope")
    with app.app_context():
        assert db.orm().query(Client).filter_by(name="wide").one_or_none() is None


def test_clients_write_can_create_a_client_within_itself(client, role, holder):
    _, headers = holder(role("client-admin", "clients:write", "orders:read"))
    response = client.post("/admin/clients", json={"name": "narrow", "scope": "orders:read"},
                           headers=headers)
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["scope"] == "orders:read"


@pytest.mark.parametrize("change", ["secret", "patch"])
def test_clients_write_cannot_take_over_a_client_wider_than_itself(client, app, admin, role,
                                                                   holder, change):
    """A new secret, or new redirect URIs and first-party status, would hand the caller
    the client's tokens and their scope: only a caller holding that whole scope may set
    them (a review found both answered 200)."""
    wide = client.post("/admin/clients", headers=admin, json={
        "name": "backoffice", "scope": "users:read users:write"}).get_json()
    _, headers = holder(role("client-admin", "clients:write"))
    path = f"/admin/clients/{wide['id']}"
    response = {
        "secret": lambda: client.post(path + "/secret", headers=headers),
        "patch": lambda: client.patch(path, headers=headers, json={
            "redirect_uris": ["https://attacker.example/cb"], "first_party": True,
            "grant_types": ["client_credentials", "authorization_code"]}),
    }[change]()
    assert_problem(response, 403, "insufficient_scope")
    token = client.post("/oauth/token", data={"grant_type": "client_credentials"},
                        auth=(wide["client_id"], wide["client_secret"]))
    assert token.status_code == 200, token.get_json()  # the old secret still works
    with app.app_context():
        kept = db.orm().get(Client, wide["id"])
        assert not kept.redirect_uris and kept.first_party is False


def test_clients_write_changes_a_client_within_itself(client, admin, role, holder):
    _, headers = holder(role("client-admin", "clients:write", "orders:read"))
    made = client.post("/admin/clients", headers=headers, json={
        "name": "narrow", "scope": "orders:read"}).get_json()
    path = f"/admin/clients/{made['id']}"
    patched = client.patch(path, headers=headers, json={
        "name": "renamed", "redirect_uris": ["https://shop.example/cb"],
        "grant_types": ["client_credentials", "authorization_code"]})
    assert patched.status_code == 200, patched.get_json()
    assert client.post(path + "/secret", headers=headers).status_code == 200
    assert client.delete(path, headers=headers).status_code == 204


def test_clients_write_may_rename_disable_or_delete_a_wider_client(client, admin, role,
                                                                  holder):
    """What hands out no token needs only clients:write: a name, `disabled`, deleting."""
    wide = client.post("/admin/clients", headers=admin, json={
        "name": "backoffice", "scope": "users:read"}).get_json()
    _, headers = holder(role("client-admin", "clients:write"))
    path = f"/admin/clients/{wide['id']}"
    assert client.patch(path, headers=headers, json={"name": "old", "disabled": True}
                        ).status_code == 200
    assert client.delete(path, headers=headers).status_code == 204


def test_roles_write_cannot_rename_a_role_it_could_not_give(client, admin, role, holder):
    """A rename takes the role's name (what `roles_required` and /auth/check?role= trust)
    from every holder and frees it: the same rule as deleting the role."""
    _, headers = holder(role("role-admin", "roles:write", "reports:read"))
    auditor, reports = role("auditor", "audit:read"), role("reports", "reports:read")
    assert_problem(client.patch(f"/admin/roles/{auditor}", json={"name": "gone"},
                                headers=headers), 403, "insufficient_scope")
    names = {r["name"] for r in client.get("/admin/roles", headers=admin).get_json()["items"]}
    assert "auditor" in names and "gone" not in names
    renamed = client.patch(f"/admin/roles/{reports}", json={"name": "reports-v2"},
                           headers=headers)
    assert renamed.status_code == 200, renamed.get_json()


def test_the_operator_at_the_command_line_is_not_bound(cli, database_url, make_user):
    # The CLI's user holds no permission at all, and still gives `admin`.
    user = make_user(email="promoted@example.com")
    result = cli("users", "roles", "--email", "promoted@example.com", "--role", "user",
                 "--role", "admin", env={"AUTHAPI_DATABASE_URL": database_url})
    assert result.returncode == 0, result.stderr
    assert user in result.stdout and "admin" in result.stdout
