"""OpenID Connect login: concurrent first sign-ins, a refused sign-in that links nothing,
abandoned starts that keep the state cookie small, provider names with underscores, and
a provider whose discovery document is broken.

Against the real provider on loopback of tests/test_oidc.py. The cases came from the
review of 2026-12-05.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from flask import jsonify
from sqlalchemy import func, select

from authapi import db
from authapi.config import from_environ, oidc_providers
from authapi.models import AuditEvent, OidcIdentity, User
from conftest import assert_problem
from fixtures.oidc_provider import CLIENT_ID, CLIENT_SECRET, Provider
from test_oidc import (  # noqa: F401  (app, provider and provider_server are fixtures)
    FRONTEND,
    LOGIN,
    app,
    authorize,
    path,
    provider,
    provider_server,
    sign_in,
)

BROWSERS = 2
COOKIE_LIMIT = 4096  # RFC 6265 §6.1: what a browser stores of one cookie at least


def callbacks_at_once(app) -> list[int]:  # noqa: F811
    """Two browsers finish their sign-ins at once (released together by a barrier); the
    callbacks' statuses."""
    browsers = [app.test_client() for _ in range(BROWSERS)]
    callbacks = [path(authorize(browser)) for browser in browsers]
    barrier = threading.Barrier(BROWSERS)

    def finish(index: int) -> int:
        barrier.wait(timeout=30)
        return browsers[index].get(callbacks[index]).status_code

    with ThreadPoolExecutor(max_workers=BROWSERS) as pool:
        return list(pool.map(finish, range(BROWSERS)))


def count(app, model, *where) -> int:  # noqa: F811
    with app.app_context():
        return db.orm().scalar(select(func.count()).select_from(model).where(*where))


# --- concurrent first sign-ins ------------------------------------------------------------

def test_two_first_sign_ins_of_a_new_user_at_once_never_500(app):  # noqa: F811
    """API.md: "No input, however malformed, produces a 5xx"; two tabs (or a double click)
    finishing a first sign-in together create the account once."""
    statuses = callbacks_at_once(app)
    assert len(statuses) == BROWSERS and all(status < 500 for status in statuses), statuses
    assert count(app, User, User.email == "alice@example.com") == 1
    assert count(app, OidcIdentity) == 1


def test_two_first_links_of_an_existing_account_at_once_never_500(app, make_user):  # noqa: F811
    """API.md: "No input, however malformed, produces a 5xx"; two callbacks linking one
    verified account together link it once."""
    make_user(email="alice@example.com", email_verified=True)
    statuses = callbacks_at_once(app)
    assert len(statuses) == BROWSERS and all(status < 500 for status in statuses), statuses
    assert count(app, OidcIdentity) == 1


# --- a refused sign-in --------------------------------------------------------------------

def test_a_refused_sign_in_of_a_disabled_account_links_nothing(app, client,  # noqa: F811
                                                                make_user):
    """API.md: the callback "links or creates the user"; a sign-in refused with 403
    `account_disabled` leaves no identity row and no `oidc_linked` event behind."""
    make_user(email="alice@example.com", disabled=True, email_verified=True)
    assert_problem(sign_in(client), 403, "account_disabled")
    assert count(app, OidcIdentity) == 0
    assert count(app, AuditEvent, AuditEvent.event == "oidc_linked") == 0


# --- the state cookie ---------------------------------------------------------------------

def test_abandoned_sign_in_starts_do_not_break_the_state_cookie(client):
    """RFC 6265 §6.1: a browser stores cookies of 4096 bytes at least, and no more; starts
    that never reach the callback must not grow the state cookie past that, or the
    browser keeps the old one and every later callback fails."""
    for attempt in range(25):
        response = client.get(LOGIN)
        assert response.status_code == 302, (attempt, response.status_code)
        sizes = [len(cookie) for cookie in response.headers.getlist("Set-Cookie")]
        assert sizes and max(sizes) <= COOKIE_LIMIT, (attempt, sizes)
    finished = sign_in(client)
    assert finished.status_code == 302, finished.get_json()
    assert finished.headers["Location"] == FRONTEND


# --- provider names -----------------------------------------------------------------------

def test_a_provider_name_with_an_underscore_is_served(make_app, provider):  # noqa: F811
    """API.md: `AUTHAPI_OIDC_<NAME>_ISSUER`, ...: one provider per NAME, and `{provider}`
    "is the lower-cased NAME of its variables", underscores included."""
    provider.register("http://localhost/auth/oidc/my_idp/callback")
    app = make_app(AUTHAPI_ISSUER="http://localhost", AUTHAPI_FRONTEND_URL=FRONTEND,  # noqa: F811
                   AUTHAPI_OIDC_MY_IDP_ISSUER=provider.issuer,
                   AUTHAPI_OIDC_MY_IDP_CLIENT_ID=CLIENT_ID,
                   AUTHAPI_OIDC_MY_IDP_CLIENT_SECRET=CLIENT_SECRET)
    response = app.test_client().get("/auth/oidc/my_idp/login")
    assert response.status_code == 302, response.get_json()
    assert response.headers["Location"].startswith(provider.issuer + "/authorize?")


def test_a_provider_name_with_an_underscore_is_read_from_the_environment():
    """API.md: `AUTHAPI_OIDC_<NAME>_ISSUER`, `_CLIENT_ID`, `_CLIENT_SECRET`: the variables
    of NAME `MY_IDP` are read as the provider `my_idp`."""
    environ = {"AUTHAPI_OIDC_MY_IDP_ISSUER": "https://idp.example",
               "AUTHAPI_OIDC_MY_IDP_CLIENT_ID": CLIENT_ID,
               "AUTHAPI_OIDC_MY_IDP_CLIENT_SECRET": CLIENT_SECRET}
    assert "my_idp" in oidc_providers(from_environ(environ)), from_environ(environ)


# --- a broken discovery document ----------------------------------------------------------

@pytest.fixture
def lone_provider() -> Iterator[Provider]:
    """A provider of this test alone, free to be broken."""
    server = Provider().start()
    yield server
    server.stop()


@pytest.mark.parametrize("document", [{}, [], "x", {"issuer": "http://evil.example"}],
                         ids=["empty", "array", "string", "issuer-only"])
def test_a_discovery_document_without_authorization_endpoint_is_never_a_500(
        make_app, lone_provider, document):
    """API.md: "No input, however malformed, produces a 5xx"; a provider whose discovery
    document names no authorization_endpoint is answered as one that cannot be reached."""
    lone_provider.app.view_functions["discovery"] = lambda: jsonify(document)
    app = make_app(AUTHAPI_ISSUER="http://localhost",  # noqa: F811
                   AUTHAPI_OIDC_BAD_ISSUER=lone_provider.issuer,
                   AUTHAPI_OIDC_BAD_CLIENT_ID=CLIENT_ID,
                   AUTHAPI_OIDC_BAD_CLIENT_SECRET=CLIENT_SECRET)
    assert_problem(app.test_client().get("/auth/oidc/bad/login"), 401, "invalid_credentials")
