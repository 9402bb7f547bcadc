"""Every admin endpoint against every kind of caller: no token, role `user`, role `admin`,
a role holding exactly the endpoint's permission, and one holding every permission but it."""

from __future__ import annotations

import pytest

from authapi import db
from authapi.admin import roles
from authapi.models import PERMISSIONS
from authapi.oauth import clients
from conftest import assert_problem, bearer

# (method, path, permission, body, success status); {user}, {role}, {client}: fresh targets.
# Bodies grant nothing: a caller holding exactly the route's permission may hand out only
# what it holds (tests/test_delegation.py), and this matrix is about the route's permission.
ENDPOINTS = [
    ("get", "/admin/users", "users:read", None, 200),
    ("get", "/admin/users/{user}", "users:read", None, 200),
    ("patch", "/admin/users/{user}", "users:write", {"display_name": "M"}, 200),
    ("delete", "/admin/users/{user}", "users:write", None, 204),
    ("put", "/admin/users/{user}/roles", "users:write", {"roles": ["user"]}, 200),
    ("get", "/admin/roles", "roles:read", None, 200),
    ("post", "/admin/roles", "roles:write", {"name": "made", "permissions": []}, 201),
    ("patch", "/admin/roles/{role}", "roles:write", {"name": "renamed"}, 200),
    ("delete", "/admin/roles/{role}", "roles:write", None, 204),
    ("get", "/admin/audit", "audit:read", None, 200),
    ("get", "/admin/clients", "clients:read", None, 200),
    ("post", "/admin/clients", "clients:write", {"name": "made", "scope": ""}, 201),
    ("patch", "/admin/clients/{client}", "clients:write", {"name": "renamed"}, 200),
    ("delete", "/admin/clients/{client}", "clients:write", None, 204),
    ("post", "/admin/clients/{client}/secret", "clients:write", None, 200),
]
ADMIN_TAGS = {"admin", "admin_clients"}
PLACEHOLDERS = {"{user}": "{user_id}", "{role}": "{name}", "{client}": "{client_row_id}"}


def template(path: str) -> str:
    """The path as the OpenAPI document spells it."""
    for ours, documented in PLACEHOLDERS.items():
        path = path.replace(ours, documented)
    return path
CALLERS = ["anonymous", "user", "admin", "exactly_it", "all_but_it"]
ALLOWED = {"admin", "exactly_it"}


def caller_headers(app, make_user, login, kind: str, permission: str) -> dict[str, str]:
    """Headers of a logged-in caller of this kind (none for the anonymous one)."""
    if kind == "anonymous":
        return {}
    held = {"exactly_it": [permission],
            "all_but_it": [p for p in PERMISSIONS if p != permission]}.get(kind)
    if held is not None:
        with app.app_context():
            roles.create(kind.replace("_", "-"), held)
            db.orm().commit()
    role = kind if held is None else kind.replace("_", "-")
    return bearer(login(make_user(roles=(role,)))["access_token"])


@pytest.mark.parametrize("kind", CALLERS)
@pytest.mark.parametrize(("method", "path", "permission", "body", "success"), ENDPOINTS,
                         ids=[f"{m.upper()} {p}" for m, p, *_ in ENDPOINTS])
def test_permission_matrix(app, client, make_user, login, kind, method, path, permission, body,
                           success):
    with app.app_context():
        roles.create("target", [])
        # A scope every caller holds: rotating the secret of a wider client also needs its
        # scope (test_delegation.py), which this matrix of one permission does not test.
        client_row = clients.create("target", "", False, None)["id"]
        db.orm().commit()
    url = path.format(user=make_user(), role="target", client=client_row)
    headers = caller_headers(app, make_user, login, kind, permission)
    response = getattr(client, method)(url, json=body, headers=headers)
    if kind in ALLOWED:
        assert response.status_code == success, response.get_json()
    elif kind == "anonymous":
        assert_problem(response, 401, "token_missing")
        assert response.headers["WWW-Authenticate"] == "Bearer"
    else:
        assert_problem(response, 403, "insufficient_scope")
        assert 'error="insufficient_scope"' in response.headers["WWW-Authenticate"]


def test_the_matrix_covers_every_admin_operation(client):
    document = client.get("/openapi.json").get_json()
    documented = {(method, path) for path, item in document["paths"].items()
                  for method, operation in item.items()
                  if method != "parameters" and ADMIN_TAGS & set(operation.get("tags", []))}
    covered = {(m, template(p)) for m, p, *_ in ENDPOINTS}
    assert documented == covered


@pytest.mark.parametrize(("method", "path", "permission", "body", "success"), ENDPOINTS,
                         ids=[f"{m.upper()} {p}" for m, p, *_ in ENDPOINTS])
def test_each_operation_names_its_permission(client, method, path, permission, body, success):
    document = client.get("/openapi.json").get_json()
    operation = document["paths"][template(path)][method]
    assert f"Requires permission `{permission}`." in operation["description"]
    assert operation["security"] == [{"bearerAuth": []}]
