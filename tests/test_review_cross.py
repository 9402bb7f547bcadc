"""Where two features meet: a pending change of address dies with a password reset or a
password change (its link went to an address that may be an intruder's); a first-party
app's narrow token approves a device for no more than it holds; and reuse detection on a
stolen session reaches the device session that session approved.

The cases came from the review of 2026-12-05 (second session).
"""

from __future__ import annotations

from typing import Any

import jwt
import pytest

from conftest import PASSWORD, assert_problem, bearer
from fixtures.smtp import token_of
from test_device import GRANT, ask, cli_app, fast_forward, poll  # noqa: F401  (cli_app: a fixture)
from test_provider import CALLBACK, Flow, admin  # noqa: F401  (admin: a fixture)

NEW_PASSWORD = "a brand new passphrase 42"


def claims_of(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


# --- a pending change of address ----------------------------------------------------------

@pytest.fixture
def pending_change(mail_app, make_user) -> tuple[Any, Any, str, str]:
    """ada@example.com signed in (by an intruder with the password) asks to move the
    account to evil@example.com: the app, its inbox, the session's access token and the
    token of the link mailed to the new address."""
    app, inbox = mail_app()
    client = app.test_client()
    make_user(email="ada@example.com", email_verified=True)
    access = client.post("/auth/login", json={"email": "ada@example.com", "password": PASSWORD}
                         ).get_json()["access_token"]
    assert client.post("/auth/email", headers=bearer(access), json={
        "new_email": "evil@example.com", "password": PASSWORD}).status_code == 202
    mails = {mail["To"]: mail for mail in (inbox.next(), inbox.next())}
    return client, inbox, access, token_of(mails["evil@example.com"])


def test_a_pending_email_change_dies_with_a_password_reset(pending_change):
    """API.md: "POST /auth/password-reset/confirm | `{token, new_password}` | 204;
    single-use token, 1 h; all sessions revoked". The owner, warned by the notice, takes
    the account back by a reset; the change the intruder asked for must not stay
    redeemable, else the intruder confirms it and takes the account by a reset of their
    own."""
    client, inbox, _, intruder_link = pending_change
    assert client.post("/auth/password-reset",
                       json={"email": "ada@example.com"}).status_code == 202
    reset = inbox.next()
    assert reset["To"] == "ada@example.com"
    assert client.post("/auth/password-reset/confirm", json={
        "token": token_of(reset), "new_password": NEW_PASSWORD}).status_code == 204
    assert_problem(client.post("/auth/email/confirm", json={"token": intruder_link}),
                   400, "link_invalid")


def test_a_pending_email_change_dies_with_a_password_change(pending_change):
    """API.md: "POST /auth/password | `{current_password, new_password}` | 204; other
    sessions revoked", and "Revocation takes effect at once ...: ... password change or
    reset". A password change is the owner's way to shut an intruder out as a reset is;
    the address change asked for before it must not outlive it."""
    client, _, access, intruder_link = pending_change
    changed = client.post("/auth/password", headers=bearer(access), json={
        "current_password": PASSWORD, "new_password": NEW_PASSWORD})
    assert changed.status_code == 204, changed.get_json()
    assert_problem(client.post("/auth/email/confirm", json={"token": intruder_link}),
                   400, "link_invalid")


# --- device approvals ---------------------------------------------------------------------

def test_a_narrow_first_party_app_token_cannot_approve_a_device_for_more(
        app, client, admin, make_user):  # noqa: F811
    """API.md, apps: the access token of an app carries "`scope` (what was consented)";
    "POST /oauth/device/approve | access token; `{user_code, approve}`: 204". An approval
    by a first-party app's token that holds `openid` alone must not hand the device the
    user's other permissions (users:read), which that token cannot use at /admin/*."""
    assert client.post("/admin/roles", headers=admin, json={
        "name": "reader", "permissions": ["users:read"]}).status_code == 201
    make_user(email="ada@example.com", email_verified=True, roles=("user", "reader"))
    portal = client.post("/admin/clients", headers=admin, json={
        "name": "Portal", "scope": "users:read", "redirect_uris": [CALLBACK],
        "first_party": True}).get_json()
    flow = Flow(client, portal)
    narrow = flow.token(flow.sign_in("ada@example.com", scope="openid")).get_json()[
        "access_token"]
    assert claims_of(narrow)["scope"] == "openid"
    assert client.get("/admin/users", headers=bearer(narrow)).status_code == 403
    tool = client.post("/admin/clients", headers=admin, json={
        "name": "Tool", "scope": "users:read", "token_endpoint_auth_method": "none",
        "grant_types": [GRANT]}).get_json()
    started = ask(client, tool, scope="openid users:read").get_json()
    approved = client.post("/oauth/device/approve", headers=bearer(narrow),
                           json={"user_code": started["user_code"], "approve": True})
    assert approved.status_code == 204, approved.get_json()
    fast_forward(app)
    polled = poll(client, tool, started["device_code"])
    assert polled.status_code == 200, polled.get_json()
    assert "users:read" not in claims_of(polled.get_json()["access_token"])["scope"].split(), \
        "an approval by an `openid` token granted users:read"


def test_reuse_detection_reaches_a_device_session_the_stolen_session_approved(
        app, client, cli_app, make_user, login):  # noqa: F811
    """API.md, Tokens: presenting an already-used refresh token "answers 401
    `token_reused` and revokes the whole session: every access and refresh token that
    descends from that login". A thief who rotated the stolen refresh token approves a
    CLI's device code with the access token it got; the device's tokens descend from that
    login (they carry its `auth_time`) and die with it."""
    owner = login(make_user(email="ada@example.com", email_verified=True))
    stolen = client.post("/auth/refresh", json={"refresh_token": owner["refresh_token"]})
    assert stolen.status_code == 200, stolen.get_json()
    thief_access = stolen.get_json()["access_token"]
    started = ask(client, cli_app, scope="openid").get_json()
    assert client.post("/oauth/device/approve", headers=bearer(thief_access), json={
        "user_code": started["user_code"], "approve": True}).status_code == 204
    fast_forward(app)
    device = poll(client, cli_app, started["device_code"]).get_json()
    assert "refresh_token" in device, device
    assert claims_of(device["access_token"])["auth_time"] == claims_of(thief_access)["auth_time"]
    # the owner refreshes with the token the thief already used: reuse
    assert_problem(client.post("/auth/refresh", json={"refresh_token": owner["refresh_token"]}),
                   401, "token_reused")
    assert client.get("/auth/me", headers=bearer(thief_access)).status_code == 401
    userinfo = client.get("/oauth/userinfo", headers=bearer(device["access_token"]))
    refreshed = client.post("/oauth/token", data={
        "grant_type": "refresh_token", "client_id": cli_app["client_id"],
        "refresh_token": device["refresh_token"]})
    assert (userinfo.status_code, refreshed.status_code) == (401, 400), \
        "the device session approved by the stolen session survives reuse detection"
