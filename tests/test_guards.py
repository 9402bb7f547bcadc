"""Guards trust only what authapi verified itself: no stacked decorator changes their answer."""

from __future__ import annotations

import pytest
from flask import Blueprint
from flask_jwt_extended import jwt_required, verify_jwt_in_request

from authapi.authz import access_required, current_claims
from conftest import assert_problem, bearer


def _claims_view():
    return {"sub": current_claims()["sub"], "type": current_claims()["type"]}


def _refresh_first_view():
    # The host app verified a refresh token with Flask-JWT-Extended first.
    verify_jwt_in_request(optional=True, refresh=True)
    return _checked()


@access_required
def _checked():
    return _claims_view()


STACKS = {
    # Flask-JWT-Extended's optional guard outside, then authapi's.
    "/outer": lambda: jwt_required(optional=True)(access_required(_claims_view)),
    # authapi's guard outside, then Flask-JWT-Extended's.
    "/inner": lambda: access_required(jwt_required(optional=True)(_claims_view)),
    "/refresh-first": lambda: _refresh_first_view,
}


@pytest.fixture
def host(make_app):
    app = make_app()
    bp = Blueprint("host", __name__)
    for path, build in STACKS.items():
        bp.add_url_rule(path, path.strip("/"), build())
    app.register_blueprint(bp)
    return app.test_client()


@pytest.mark.parametrize("path", list(STACKS))
def test_stacked_guard_without_a_token_is_401_token_missing(host, path):
    response = host.get(path)
    assert_problem(response, 401, "token_missing")
    assert response.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize("path", list(STACKS))
def test_stacked_guard_refuses_a_refresh_token_as_access(host, path, make_user, login):
    refresh = login(make_user())["refresh_token"]
    assert_problem(host.get(path, headers=bearer(refresh)), 401, "token_invalid")


@pytest.mark.parametrize("path", ["/outer", "/inner"])
def test_stacked_guard_accepts_a_valid_access_token(host, path, make_user, login):
    user = make_user()
    response = host.get(path, headers=bearer(login(user)["access_token"]))
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {"sub": user, "type": "access"}


def test_refresh_token_never_satisfies_an_access_guard(client, make_user, login):
    refresh = login(make_user())["refresh_token"]
    for path in ("/auth/me", "/auth/check", "/auth/sessions"):
        assert_problem(client.get(path, headers=bearer(refresh)), 401, "token_invalid")


def test_access_token_never_refreshes(client, make_user, login):
    access = login(make_user())["access_token"]
    assert_problem(client.post("/auth/refresh", headers=bearer(access)), 401, "token_invalid")


def test_the_verified_slot_is_bound_to_the_token_text(app, make_user, login):
    # Two requests inside one app context share `g`: the second, with no token,
    # must not be answered from the first one's verification.
    client = app.test_client()
    token = login(make_user())["access_token"]
    with app.app_context():
        assert client.get("/auth/me", headers=bearer(token)).status_code == 200
        assert_problem(client.get("/auth/me"), 401, "token_missing")
