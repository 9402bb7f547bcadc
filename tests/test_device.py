"""The device authorization grant (RFC 8628, issue 22 item 1): a CLI asks for codes, the
user approves on another device, the CLI polls and gets its tokens once."""

from __future__ import annotations

import re
from datetime import timedelta

import jwt
import pytest
from sqlalchemy import update

from authapi import db
from authapi.db import utcnow
from authapi.models import DeviceGrant
from conftest import assert_problem, bearer
from fixtures.oauth import assert_oauth_error

GRANT = "urn:ietf:params:oauth:grant-type:device_code"


@pytest.fixture
def cli_app(client, auth_headers):
    response = client.post("/admin/clients", headers=auth_headers(("admin",)), json={
        "name": "Tool", "scope": "", "token_endpoint_auth_method": "none",
        "grant_types": [GRANT, "refresh_token"]})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def ask(client, app, **form):
    return client.post("/oauth/device_authorization",
                       data={"client_id": app["client_id"], "scope": "openid email", **form})


def poll(client, app, device_code):
    return client.post("/oauth/token", data={"grant_type": GRANT, "device_code": device_code,
                                             "client_id": app["client_id"]})


def fast_forward(app, seconds=10):
    """Let the device's polling interval pass (the last poll moved back in time)."""
    with app.app_context():
        db.orm().execute(update(DeviceGrant).values(
            last_polled_at=utcnow() - timedelta(seconds=seconds)))
        db.orm().commit()


def test_a_cli_signs_a_user_in_with_the_device_grant(app, client, cli_app, auth_headers):
    started = ask(client, cli_app)
    body = started.get_json()
    assert started.status_code == 200, body
    assert re.fullmatch(r"[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}",
                        body["user_code"])
    assert body["verification_uri"] == "http://localhost:8000/oauth/device"
    assert body["verification_uri_complete"].endswith("?user_code=" + body["user_code"])
    assert (body["expires_in"], body["interval"]) == (600, 5)
    assert_oauth_error(poll(client, cli_app, body["device_code"]), 400,
                       "authorization_pending")
    user = auth_headers()
    typed = body["user_code"].lower().replace("-", "")  # case and dash ignored
    seen = client.post("/oauth/device/verify", headers=user, json={"user_code": typed})
    assert seen.status_code == 200
    assert seen.get_json() == {"client": {"client_id": cli_app["client_id"], "name": "Tool"},
                               "scopes": ["openid", "email"]}
    assert client.post("/oauth/device/approve", headers=user,
                       json={"user_code": typed, "approve": True}).status_code == 204
    fast_forward(app)
    tokens = poll(client, cli_app, body["device_code"])
    answer = tokens.get_json()
    assert tokens.status_code == 200, answer
    assert {"access_token", "refresh_token", "id_token"} <= set(answer)
    claims = jwt.decode(answer["access_token"], options={"verify_signature": False})
    assert claims["client_id"] == cli_app["client_id"] and claims["acr"] == "pwd"
    fast_forward(app)
    assert_oauth_error(poll(client, cli_app, body["device_code"]), 400, "invalid_grant")


def test_polling_too_fast_slows_the_device_down(client, cli_app):
    body = ask(client, cli_app).get_json()
    assert_oauth_error(poll(client, cli_app, body["device_code"]), 400,
                       "authorization_pending")
    assert_oauth_error(poll(client, cli_app, body["device_code"]), 400, "slow_down")
    assert_oauth_error(poll(client, cli_app, body["device_code"]), 400, "slow_down")
    with client.application.app_context():
        assert db.orm().query(DeviceGrant).one().interval == 15  # +5 s each time


def test_a_denied_device_hears_access_denied(app, client, cli_app, auth_headers):
    body = ask(client, cli_app).get_json()
    assert client.post("/oauth/device/approve", headers=auth_headers(),
                       json={"user_code": body["user_code"], "approve": False}
                       ).status_code == 204
    assert_oauth_error(poll(client, cli_app, body["device_code"]), 400, "access_denied")


def test_an_expired_code_is_expired_token(app, client, cli_app, auth_headers):
    body = ask(client, cli_app).get_json()
    with app.app_context():
        db.orm().execute(update(DeviceGrant).values(expires_at=utcnow() - timedelta(seconds=1)))
        db.orm().commit()
    assert_oauth_error(poll(client, cli_app, body["device_code"]), 400, "expired_token")
    assert_problem(client.post("/oauth/device/verify", headers=auth_headers(),
                               json={"user_code": body["user_code"]}), 404, "not_found")


def test_another_client_cannot_poll(client, cli_app, auth_headers):
    other = client.post("/admin/clients", headers=auth_headers(("admin",)), json={
        "name": "Other", "scope": "", "token_endpoint_auth_method": "none",
        "grant_types": [GRANT]}).get_json()
    body = ask(client, cli_app).get_json()
    assert_oauth_error(poll(client, other, body["device_code"]), 400, "invalid_grant")


def test_wrong_codes_are_rate_limited(make_app, make_user):
    app = make_app(AUTHAPI_DEVICE_CODE_FAILURE_RATE="3 per minute")
    client = app.test_client()
    make_user(email="ada@example.com")
    token = client.post("/auth/login", json={"email": "ada@example.com",
                                             "password": "correct horse battery staple"}
                        ).get_json()["access_token"]
    for _ in range(3):
        assert_problem(client.post("/oauth/device/verify", headers=bearer(token),
                                   json={"user_code": "BCDF-GHJK"}), 404, "not_found")
    assert_problem(client.post("/oauth/device/verify", headers=bearer(token),
                               json={"user_code": "BCDF-GHJK"}), 429, "rate_limited")


def test_a_client_without_the_grant_is_refused(client, make_client):
    service = make_client()
    response = client.post("/oauth/device_authorization", data={
        "client_id": service["client_id"], "client_secret": service["client_secret"]})
    assert_oauth_error(response, 400, "unauthorized_client")


def test_approving_needs_the_users_own_token(client, cli_app):
    body = ask(client, cli_app).get_json()
    assert_problem(client.post("/oauth/device/verify", json={"user_code": body["user_code"]}),
                   401, "token_missing")


def test_the_device_page_runs_only_its_own_files(client):
    response = client.get("/oauth/device?user_code=BCDF-GHJK")
    assert response.status_code == 200 and "unsafe-inline" not in response.headers[
        "Content-Security-Policy"]
    assert client.get("/oauth/assets/device.js").status_code == 200


def test_an_apps_token_cannot_approve_a_device(client, cli_app, auth_headers, make_user):
    from test_provider import CALLBACK, Flow

    shop = client.post("/admin/clients", headers=auth_headers(("admin",)), json={
        "name": "Shop", "scope": "", "redirect_uris": [CALLBACK]}).get_json()
    make_user(email="ada@example.com", email_verified=True)
    flow = Flow(client, shop)
    access = flow.token(flow.sign_in("ada@example.com")).get_json()["access_token"]
    body = ask(client, cli_app).get_json()
    assert_problem(client.post("/oauth/device/verify", headers=bearer(access),
                               json={"user_code": body["user_code"]}), 401, "token_invalid")


def test_a_client_that_requires_dpop_gets_no_bearer_tokens_by_device(app, client,
                                                                      auth_headers):
    """RFC 9449 §5.2: a client registered with require_dpop is refused without a proof at
    every grant, the device grant too; the refused poll delivers nothing, so the device
    still gets its (bound) tokens with a proof."""
    from fixtures.dpop import DpopClient

    tool = client.post("/admin/clients", headers=auth_headers(("admin",)), json={
        "name": "Tool", "scope": "", "token_endpoint_auth_method": "none",
        "grant_types": [GRANT, "refresh_token"], "require_dpop": True}).get_json()
    body = ask(client, tool).get_json()
    assert client.post("/oauth/device/approve", headers=auth_headers(),
                       json={"user_code": body["user_code"], "approve": True}).status_code == 204
    fast_forward(app)
    assert_oauth_error(poll(client, tool, body["device_code"]), 400, "invalid_dpop_proof")
    key = DpopClient()
    fast_forward(app)
    bound = client.post("/oauth/token", headers={"DPoP": key.proof("POST", "/oauth/token")},
                        data={"grant_type": GRANT, "device_code": body["device_code"],
                              "client_id": tool["client_id"]})
    assert bound.status_code == 200, bound.get_json()
    assert bound.get_json()["token_type"] == "DPoP"
    refresh = {"grant_type": "refresh_token", "client_id": tool["client_id"],
               "refresh_token": bound.get_json()["refresh_token"]}
    assert_oauth_error(client.post("/oauth/token", data=refresh), 400, "invalid_dpop_proof")
