"""Guards: a host route under Flask-JWT-Extended refuses what authapi's guards refuse (an
app's token under /auth and /admin, a malformed Authorization header, an access token in
a cookie); /auth/check splits a scope value on spaces; `auth_required` refuses a
`max_age` that is not a whole number of seconds when it is declared.

The cases came from the review of 2026-12-05.
"""

from __future__ import annotations

import pytest
from flask import Blueprint
from flask_jwt_extended import get_jwt, jwt_required

from authapi.authz import access_required, auth_required, current_claims
from conftest import assert_problem, bearer
from test_check import reader_headers  # noqa: F401  (a fixture)
from test_host_routes import host, host_app, host_login, same_answer  # noqa: F401  (fixtures)
from test_provider import Flow, admin, register, user  # noqa: F401  (fixtures)

PREFIXES = ["/admin/host", "/auth/host"]


@pytest.fixture
def prefixed(make_app):
    """An app with one host view under each of authapi's prefixes, guarded once by
    Flask-JWT-Extended (`/fje`) and once by authz (`/authz`)."""
    app = make_app()
    bp = Blueprint("prefixed", __name__)
    for prefix in PREFIXES:
        bp.add_url_rule(f"{prefix}/fje", f"{prefix}-fje",
                        jwt_required()(lambda: {"sub": get_jwt()["sub"]}))
        bp.add_url_rule(f"{prefix}/authz", f"{prefix}-authz",
                        access_required(lambda: {"sub": current_claims()["sub"]}))
    app.register_blueprint(bp)
    return app


# --- host routes --------------------------------------------------------------------------

@pytest.mark.parametrize("prefix", PREFIXES)
def test_an_apps_token_is_refused_by_jwt_required_where_authz_refuses_it(
        prefixed, register, user, prefix):  # noqa: F811
    """An app's token for a user does not reach authapi's own prefixes (but through a
    first-party app), whichever guard the host route under them uses."""
    browser = prefixed.test_client()
    flow = Flow(browser, register())
    access = flow.token(flow.sign_in(user)).get_json()["access_token"]
    assert_problem(browser.get(f"{prefix}/authz", headers=bearer(access)), 401, "token_invalid")
    assert_problem(browser.get(f"{prefix}/fje", headers=bearer(access)), 401, "token_invalid")


def test_a_header_authapi_refuses_is_refused_on_a_host_route(host, make_user):  # noqa: F811
    """A Bearer token followed by another credential is no Bearer header (RFC 6750 §2.1):
    /auth/me refuses it, and so does a host route."""
    make_user(email="comma@example.com")
    token = host_login(host, "comma@example.com")["access_token"]
    headers = {"Authorization": f"Bearer {token}, Basic dXNlcjpwYXNz"}
    answers = same_answer(host, headers)
    assert answers[0] == answers[1] and answers[0][:2] == (401, "token_invalid")
    assert_problem(host.get("/host/reports", headers=headers), 401, "token_invalid")


def test_a_host_route_never_takes_an_access_token_from_a_cookie(make_app, make_user):
    """authapi reads an access token from Authorization only: a cookie is ambient
    authority, and a GET carries no CSRF check; a host route asking for cookies too
    gets none either."""
    app = make_app()
    bp = Blueprint("inbox", __name__)
    bp.add_url_rule("/host/inbox", "inbox", jwt_required(locations=["cookies", "headers"])(
        lambda: {"sub": get_jwt()["sub"]}))
    app.register_blueprint(bp)
    browser = app.test_client()
    make_user(email="cookie@example.com")
    token = host_login(browser, "cookie@example.com")["access_token"]
    browser.set_cookie("access_token_cookie", token)
    assert_problem(browser.get("/auth/me"), 401, "token_missing")
    assert_problem(browser.get("/host/inbox"), 401, "token_missing")


# --- /auth/check --------------------------------------------------------------------------

@pytest.mark.parametrize("query", ["?scope=users:read&scope=users:write",
                                   "?scope=users:read%20users:write",
                                   "?scope=users:read+users:write"],
                         ids=["repeated", "percent-space", "plus"])
def test_a_space_delimited_scope_value_is_all_of_its_scopes(client, auth_headers, query):
    """RFC 6749 §3.3: a scope is a space-delimited list; `?scope=a%20b` asks for a and b,
    as `?scope=a&scope=b` does (an admin holds both)."""
    response = client.get("/auth/check" + query, headers=auth_headers(("admin",)))
    assert response.status_code == 200, response.get_json()


def test_a_space_delimited_scope_value_needs_each_of_its_scopes(client,
                                                                reader_headers):  # noqa: F811
    """All of them: a token with users:read alone lacks `users:read users:write`."""
    response = client.get("/auth/check?scope=users:read%20users:write", headers=reader_headers)
    assert_problem(response, 403, "insufficient_scope")


# --- auth_required ------------------------------------------------------------------------

@pytest.mark.parametrize("max_age", ["300", 2.5, -1], ids=["text", "fraction", "negative"])
def test_auth_required_refuses_a_max_age_that_is_no_whole_number_when_declared(max_age):
    """A max_age read as text from a config file failed every request with a 500; it is
    refused where the guard is declared, as a bad `acr` is."""
    with pytest.raises(ValueError, match="max_age"):
        auth_required(max_age=max_age)
