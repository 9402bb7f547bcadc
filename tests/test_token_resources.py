"""RFC 8707 §2.2 at the token endpoint: a token request may name resources; each must be
one the grant holds (else `invalid_target`, and nothing is spent), and the access token
is then for those alone, while the session keeps the whole grant for later refreshes."""

from __future__ import annotations

import jwt
import pytest

from conftest import bearer
from fixtures.oauth import assert_oauth_error, basic
from test_provider import Flow, admin, register, user  # noqa: F401  (fixtures)

API, PAY = "https://api.shop.example", "https://pay.shop.example"
DEVICE = "urn:ietf:params:oauth:grant-type:device_code"


def aud(token: str):
    return jwt.decode(token, options={"verify_signature": False})["aud"]


@pytest.fixture
def shop(register):  # noqa: F811
    return register(resources=[API, PAY], grant_types=["authorization_code", "refresh_token"])


def test_a_code_exchange_narrows_to_the_resources_it_names(client, shop, user):  # noqa: F811
    flow = Flow(client, shop)
    code = flow.sign_in(user, resource=[API, PAY])
    refused = flow.token(code, resource="https://elsewhere.example")
    assert_oauth_error(refused, 400, "invalid_target")
    answer = flow.token(code, resource=PAY)  # the refusal spent nothing
    assert answer.status_code == 200, answer.get_json()
    assert aud(answer.get_json()["access_token"]) == PAY
    # the session keeps the whole grant: a refresh without resource is for both again
    refreshed = client.post("/oauth/token", data={
        "grant_type": "refresh_token", "refresh_token": answer.get_json()["refresh_token"]},
        headers=basic(shop["client_id"], shop["client_secret"]))
    assert refreshed.status_code == 200, refreshed.get_json()
    assert aud(refreshed.get_json()["access_token"]) == [API, PAY]


def test_a_refresh_naming_a_foreign_resource_spends_nothing(client, shop, user):  # noqa: F811
    flow = Flow(client, shop)
    pair = flow.token(flow.sign_in(user, resource=[API, PAY])).get_json()
    headers = basic(shop["client_id"], shop["client_secret"])
    form = {"grant_type": "refresh_token", "refresh_token": pair["refresh_token"]}
    refused = client.post("/oauth/token", data={**form, "resource": "https://evil.example"},
                          headers=headers)
    assert_oauth_error(refused, 400, "invalid_target")
    again = client.post("/oauth/token", data=form, headers=headers)
    assert again.status_code == 200, again.get_json()


def test_a_refresh_may_name_one_of_the_granted_resources(client, shop, user):  # noqa: F811
    flow = Flow(client, shop)
    pair = flow.token(flow.sign_in(user, resource=[API, PAY])).get_json()
    narrowed = client.post("/oauth/token", headers=basic(shop["client_id"], shop["client_secret"]),
                           data={"grant_type": "refresh_token", "resource": API,
                                 "refresh_token": pair["refresh_token"]})
    assert narrowed.status_code == 200, narrowed.get_json()
    assert aud(narrowed.get_json()["access_token"]) == API


def test_a_session_of_authapi_names_only_the_configured_audience(client, make_user, login):
    pair = login(make_user())
    form = {"grant_type": "refresh_token", "refresh_token": pair["refresh_token"]}
    assert_oauth_error(client.post("/oauth/token", data={**form, "resource": API}), 400,
                       "invalid_target")
    same = client.post("/oauth/token", data={**form, "resource": "http://localhost:8000"})
    assert same.status_code == 200, same.get_json()
    me = client.get("/auth/me", headers=bearer(same.get_json()["access_token"]))
    assert me.status_code == 200


def test_client_credentials_name_only_the_configured_audience(client, make_client):
    registered = make_client()
    headers = basic(registered["client_id"], registered["client_secret"])
    form = {"grant_type": "client_credentials"}
    assert_oauth_error(client.post("/oauth/token", data={**form, "resource": API},
                                   headers=headers), 400, "invalid_target")
    ok = client.post("/oauth/token", data={**form, "resource": "http://localhost:8000"},
                     headers=headers)
    assert ok.status_code == 200, ok.get_json()


def test_a_device_poll_narrows_and_a_foreign_resource_spends_nothing(
        client, register, make_user, login):  # noqa: F811
    tool = register(resources=[API, PAY], token_endpoint_auth_method="none", redirect_uris=[],
                    grant_types=[DEVICE, "refresh_token"], scope="")
    user_headers = bearer(login(make_user())["access_token"])
    started = client.post("/oauth/device_authorization", data={
        "client_id": tool["client_id"], "scope": "openid", "resource": [API, PAY]}).get_json()
    assert client.post("/oauth/device/approve", headers=user_headers, json={
        "user_code": started["user_code"], "approve": True}).status_code == 204
    form = {"grant_type": DEVICE, "device_code": started["device_code"],
            "client_id": tool["client_id"]}
    assert_oauth_error(client.post("/oauth/token", data={**form, "resource": "https://evil.example"}),
                       400, "invalid_target")
    answer = client.post("/oauth/token", data={**form, "resource": API})
    assert answer.status_code == 200, answer.get_json()
    assert aud(answer.get_json()["access_token"]) == API


def test_an_approved_device_is_a_consent_the_user_can_withdraw(client, register, make_user, login):  # noqa: F811
    tool = register(token_endpoint_auth_method="none", redirect_uris=[], scope="",
                    grant_types=[DEVICE, "refresh_token"])
    user_headers = bearer(login(make_user())["access_token"])
    started = client.post("/oauth/device_authorization", data={
        "client_id": tool["client_id"], "scope": "openid email"}).get_json()
    assert client.post("/oauth/device/approve", headers=user_headers, json={
        "user_code": started["user_code"], "approve": True}).status_code == 204
    tokens = client.post("/oauth/token", data={
        "grant_type": DEVICE, "device_code": started["device_code"],
        "client_id": tool["client_id"]}).get_json()
    listed = client.get("/auth/consents", headers=user_headers).get_json()["items"]
    assert [(c["client_id"], c["scopes"]) for c in listed] == [
        (tool["client_id"], ["email", "openid"])]
    assert client.delete(f"/auth/consents/{tool['client_id']}",
                         headers=user_headers).status_code == 204
    refreshed = client.post("/oauth/token", data={
        "grant_type": "refresh_token", "client_id": tool["client_id"],
        "refresh_token": tokens["refresh_token"]})
    assert_oauth_error(refreshed, 400, "invalid_grant")
