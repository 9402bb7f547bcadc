"""Administration and sessions: a client's narrowed scope is not undone by its refresh
tokens; a roles PUT that changes nothing voids nothing; a device approval is void once
the sign-in that made it ends; a service token is refused on the account routes that
need a user; /auth/refresh takes one refresh token; logging out a cookie session by its
access token clears its cookies.

The cases came from the review of 2026-12-05.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from authapi import db
from authapi.models import AuditEvent
from conftest import PASSWORD, assert_problem, bearer
from fixtures.oauth import assert_oauth_error, basic
from fixtures.smtp import token_of
from test_app_clients import jti_minted_in
from test_cookies import CSRF_COOKIE, REFRESH_COOKIE
from test_device import ask, cli_app, fast_forward, poll  # noqa: F401  (cli_app: a fixture)
from test_provider import Flow, admin, register  # noqa: F401  (fixtures)

NEW_PASSWORD = "a brand new passphrase 42"


# --- clients and roles --------------------------------------------------------------------

def test_narrowing_a_clients_scope_is_not_undone_by_its_refresh_tokens(
        client, admin, register, make_user, monkeypatch):  # noqa: F811
    """RFC 6749 §6, and "a refresh never copies claims from the old token": once a
    client's scope loses orders:read, its refresh tokens mint no orders:read. The
    refresh is made after the change has settled (new_jti's clock moved on)."""
    from authapi.tokens import tokens

    assert client.post("/admin/roles", json={"name": "rep", "permissions": ["orders:read"]},
                       headers=admin).status_code == 201
    make_user(email="ada@example.com", roles=("user", "rep"))
    shop = register()
    flow = Flow(client, shop)
    body = flow.token(flow.sign_in("ada@example.com", scope="openid orders:read")).get_json()
    assert body["scope"] == "openid orders:read"
    narrowed = client.patch(f"/admin/clients/{shop['id']}", json={"scope": ""}, headers=admin)
    assert narrowed.status_code == 200 and narrowed.get_json()["scope"] == ""
    monkeypatch.setattr(tokens, "new_jti", lambda: jti_minted_in(5))
    shop_auth = basic(shop["client_id"], shop["client_secret"])
    refreshed = client.post("/oauth/token", headers=shop_auth, data={
        "grant_type": "refresh_token", "refresh_token": body["refresh_token"]})
    assert refreshed.status_code == 200, refreshed.get_json()
    assert "orders:read" not in refreshed.get_json()["scope"].split(), refreshed.get_json()
    info = client.post("/oauth/introspect", headers=shop_auth,
                       data={"token": refreshed.get_json()["access_token"]}).get_json()
    assert info["active"] is True and "orders:read" not in info["scope"].split(), info


# --- device approvals ---------------------------------------------------------------------

def approved_device(client, tool, access_token: str) -> str:
    """A device code the holder of `access_token` approved; its device_code."""
    started = ask(client, tool).get_json()
    approved = client.post("/oauth/device/approve", headers=bearer(access_token),
                           json={"user_code": started["user_code"], "approve": True})
    assert approved.status_code == 204, approved.get_json()
    return started["device_code"]


ENDINGS = {  # each ends the approving session; the other one survives a password change
    "logout-all": lambda client, approver, other: client.post(
        "/auth/logout-all", headers=bearer(approver)),
    "password change": lambda client, approver, other: client.post(
        "/auth/password", headers=bearer(other),
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD}),
}


@pytest.mark.parametrize("ending", sorted(ENDINGS))
def test_a_device_approval_is_void_once_its_sign_in_ends(app, client, cli_app,  # noqa: F811
                                                         make_user, login, ending):
    """API.md: logout-all revokes every session, a password change every other one; an
    approval made by such a session opens no new one afterwards, as a code from an ended
    sign-in does not."""
    user = make_user()
    approver, other = login(user)["access_token"], login(user)["access_token"]
    device_code = approved_device(client, cli_app, approver)
    assert ENDINGS[ending](client, approver, other).status_code == 204
    fast_forward(app)
    assert_oauth_error(poll(client, cli_app, device_code), 400, "invalid_grant")


def test_a_device_approval_is_void_after_a_password_reset(mail_app, make_user,
                                                          cli_app):  # noqa: F811
    """API.md: password-reset/confirm revokes all sessions, at once; the approval one of
    them made opens no new session afterwards."""
    app, inbox = mail_app()
    browser = app.test_client()
    make_user(email="ada@example.com")
    access = browser.post("/auth/login", json={"email": "ada@example.com",
                                               "password": PASSWORD}).get_json()["access_token"]
    device_code = approved_device(browser, cli_app, access)
    assert browser.post("/auth/password-reset", json={"email": "ada@example.com"}
                        ).status_code == 202
    assert browser.post("/auth/password-reset/confirm", json={
        "token": token_of(inbox.next()), "new_password": NEW_PASSWORD}).status_code == 204
    fast_forward(app)
    assert_oauth_error(poll(browser, cli_app, device_code), 400, "invalid_grant")


# --- service tokens and sessions ----------------------------------------------------------

@pytest.mark.parametrize("path", ["/auth/logout", "/auth/logout-all", "/auth/verify-email"])
def test_a_service_token_is_refused_on_the_routes_of_a_users_sessions(
        app, client, make_client, client_token, path):
    """A client_credentials token has no user and no session: the account routes answer
    401 `token_invalid` ("Only a user's token can do this"), and log nothing."""
    access = client_token(make_client(scope="users:read")).get_json()["access_token"]
    assert_problem(client.post(path, headers=bearer(access)), 401, "token_invalid")
    with app.app_context():
        assert db.orm().scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.event == "logout_all")) == 0


def test_refresh_with_two_different_tokens_is_bad_request(client, make_user, login):
    """RFC 6750 §2: a client sends its token by one method alone (§3.1:
    invalid_request); a header and a body naming two refresh tokens are refused, not
    the header's silently rotated."""
    user = make_user()
    first, second = login(user), login(user)
    response = client.post("/auth/refresh", headers=bearer(first["refresh_token"]),
                           json={"refresh_token": second["refresh_token"]})
    assert_problem(response, 400, "bad_request")


def test_logging_out_a_cookie_session_by_its_access_token_clears_its_cookies(client,
                                                                             make_user):
    """Cookie mode: an SPA logs out with its access token, and the browser sends the
    refresh cookie of the same session along; both cookies are cleared with it."""
    make_user(email="c@example.com")
    body = client.post("/auth/login", json={"email": "c@example.com", "password": PASSWORD,
                                            "use_cookies": True}).get_json()
    assert client.get_cookie(REFRESH_COOKIE, path="/auth") is not None
    assert client.post("/auth/logout", headers=bearer(body["access_token"])).status_code == 204
    assert client.get_cookie(REFRESH_COOKIE, path="/auth") is None
    assert client.get_cookie(CSRF_COOKIE) is None
