"""The route decorators an app mounting authapi uses on its own routes."""

import pytest
from flask import Blueprint

from authapi import db
from authapi.authz import current_claims, roles_accepted, roles_required, scopes_required
from authapi.models import Role
from conftest import PASSWORD, PROBLEM, assert_problem, bearer

ROUTES = {
    "/all": roles_required("admin", "editor"),
    "/any": roles_accepted("admin", "editor"),
    "/scoped": scopes_required("users:read", "audit:read"),
    "/one-scope": scopes_required("articles:write"),
}


def view():
    return {"sub": current_claims()["sub"]}


@pytest.fixture
def guarded(make_app):
    """A fresh app with routes of its own, added before its first request."""
    app = make_app()
    bp = Blueprint("guarded", __name__)
    for path, decorator in ROUTES.items():
        bp.add_url_rule(path, path.strip("/"), decorator(view))
    app.register_blueprint(bp)
    with app.app_context():
        db.orm().add(Role(name="editor", permissions=["articles:write"]))
        db.orm().commit()
    return app.test_client()


@pytest.fixture
def token_for(guarded, make_user):
    """Log in, through the guarded app, a new user holding `roles`."""

    def login(roles):
        email = f"{'-'.join(roles) or 'none'}@example.com"
        make_user(email=email, roles=roles)
        body = guarded.post("/auth/login", json={"email": email, "password": PASSWORD})
        return bearer(body.get_json()["access_token"])

    return login


MATRIX = [
    # roles held               /all  /any  /scoped /one-scope
    ((),                       403,  403,  403,    403),
    (("user",),                403,  403,  403,    403),
    (("editor",),              403,  200,  403,    200),
    (("admin",),               403,  200,  200,    403),
    (("admin", "editor"),      200,  200,  200,    200),
    (("editor", "user"),       403,  200,  403,    200),
]
CASES = [(roles, path, status) for roles, *statuses in MATRIX
         for path, status in zip(ROUTES, statuses, strict=True)]


@pytest.mark.parametrize(("roles", "path", "status"), CASES)
def test_role_by_route_matrix(guarded, token_for, roles, path, status):
    response = guarded.get(path, headers=token_for(roles))
    assert response.status_code == status


@pytest.mark.parametrize(("path", "code"), [("/all", "insufficient_role"),
                                            ("/any", "insufficient_role"),
                                            ("/scoped", "insufficient_scope")])
def test_forbidden_is_problem_with_insufficient_scope_challenge(guarded, token_for, path, code):
    response = guarded.get(path, headers=token_for(("user",)))
    assert response.status_code == 403
    assert response.content_type == PROBLEM
    assert response.get_json()["code"] == code
    assert 'error="insufficient_scope"' in response.headers["WWW-Authenticate"]


def test_allowed_view_sees_the_claims(guarded, token_for):
    response = guarded.get("/any", headers=token_for(("editor",)))
    assert response.status_code == 200
    assert response.get_json()["sub"]


@pytest.mark.parametrize("path", list(ROUTES))
def test_missing_token_is_401_token_missing(guarded, path):
    response = guarded.get(path)
    assert_problem(response, 401, "token_missing")
    assert response.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize("path", list(ROUTES))
def test_bad_token_is_401_token_invalid(guarded, path):
    response = guarded.get(path, headers=bearer("not.a.token"))
    assert response.status_code == 401
    assert response.get_json()["code"] == "token_invalid"
    assert response.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'


@pytest.mark.parametrize("path", list(ROUTES))
def test_revoked_token_is_401_token_revoked(guarded, token_for, path):
    headers = token_for(("admin", "editor"))
    assert guarded.post("/auth/logout", headers=headers).status_code == 204
    response = guarded.get(path, headers=headers)
    assert response.status_code == 401
    assert response.get_json()["code"] == "token_revoked"


def test_refresh_token_does_not_pass_a_guard(guarded, make_user):
    make_user(email="r@example.com", roles=("admin", "editor"))
    body = guarded.post("/auth/login", json={"email": "r@example.com", "password": PASSWORD})
    response = guarded.get("/all", headers=bearer(body.get_json()["refresh_token"]))
    assert response.status_code == 401
    assert response.get_json()["code"] == "token_invalid"
