"""RFC 7591 dynamic client registration (issue 22, item 2): off unless
AUTHAPI_REGISTRATION=open; a registered app signs users in like any other, is never
first-party and holds no permission of its own."""

from __future__ import annotations

import pytest

from conftest import bearer
from fixtures.oauth import assert_oauth_error, basic
from test_provider import CALLBACK, Flow, query


@pytest.fixture
def open_client(make_app):
    return make_app(AUTHAPI_REGISTRATION="open").test_client()


def test_registration_is_off_by_default(client):
    response = client.post("/oauth/register", json={"redirect_uris": [CALLBACK]})
    assert_oauth_error(response, 404, "not_found")
    assert "registration_endpoint" not in client.get(
        "/.well-known/openid-configuration").get_json()


def test_an_app_registers_itself_and_signs_a_user_in(open_client, make_user):
    assert open_client.get("/.well-known/openid-configuration").get_json()[
        "registration_endpoint"] == "http://localhost:8000/oauth/register"
    response = open_client.post("/oauth/register", json={
        "redirect_uris": [CALLBACK], "client_name": "Agent", "logo_uri": "ignored",
        "scope": "users:write"})
    body = response.get_json()
    assert response.status_code == 201, body
    assert body["client_secret"] and body["client_secret_expires_at"] == 0
    assert body["grant_types"] == ["authorization_code", "refresh_token"]
    assert body["token_endpoint_auth_method"] == "client_secret_basic"
    assert isinstance(body["client_id_issued_at"], int)
    make_user(email="ada@example.com", roles=("admin",))
    flow = Flow(open_client, {**body, "name": body["client_name"]})
    request_id = flow.request_id(flow.authorize())
    location = flow.login(request_id, "ada@example.com").get_json()["redirect_to"]
    assert "/oauth/login?request=" in location  # never first-party: consent is asked
    code = flow.code_of(flow.consent(request_id).get_json()["redirect_to"])
    token = flow.token(code).get_json()
    assert token["scope"] == "openid email profile"
    # A permission it did not register for is refused, even for an admin.
    refused = flow.authorize(scope="openid users:write")
    assert query(refused.headers["Location"])["error"] == "invalid_scope"
    assert open_client.get("/auth/me", headers=bearer(token["access_token"])).status_code == 401


def test_a_registered_app_gets_the_operators_scopes_a_user_holds_and_consents_to(
        app, open_client, make_user):
    """What an MCP server checks: a permission the operator defined for a resource
    (`notes:read`) reaches a self-registered client only through a user who holds it
    and consents; authapi's own administrative permissions never do (above)."""
    from authapi import db
    from authapi.admin import roles

    with app.app_context():
        roles.create("notes", ["notes:read"])
        db.orm().commit()
    body = open_client.post("/oauth/register", json={"redirect_uris": [CALLBACK]}).get_json()
    flow = Flow(open_client, {**body, "name": "Agent"})
    make_user(email="reader@example.com", roles=("user", "notes"))
    make_user(email="plain@example.com")
    scope = "openid notes:read notes:write"
    request_id = flow.request_id(flow.authorize(scope=scope))
    assert open_client.get(f"/oauth/requests/{request_id}").get_json()["scopes"] == \
        scope.split()
    flow.login(request_id, "reader@example.com")
    code = flow.code_of(flow.consent(request_id).get_json()["redirect_to"])
    assert flow.token(code).get_json()["scope"] == "openid notes:read"  # held, not asked
    plain = Flow(open_client, {**body, "name": "Agent"})
    plain.client = app.test_client()  # another browser
    request_id = plain.request_id(plain.authorize(scope=scope))
    plain.login(request_id, "plain@example.com")
    code = plain.code_of(plain.consent(request_id).get_json()["redirect_to"])
    assert plain.token(code).get_json()["scope"] == "openid"


def test_a_public_app_registers_without_a_secret(open_client):
    body = open_client.post("/oauth/register", json={
        "redirect_uris": ["http://127.0.0.1/cb"], "token_endpoint_auth_method": "none"}
    ).get_json()
    assert "client_secret" not in body and body["token_endpoint_auth_method"] == "none"


@pytest.mark.parametrize(("metadata", "error"), [
    ({"redirect_uris": ["http://evil.example/cb"]}, "invalid_redirect_uri"),
    ({"redirect_uris": ["https://app.example/cb#x"]}, "invalid_redirect_uri"),
    ({"redirect_uris": []}, "invalid_redirect_uri"),
    ({}, "invalid_redirect_uri"),
    ({"redirect_uris": [CALLBACK], "grant_types": ["client_credentials"]},
     "invalid_client_metadata"),
    ({"redirect_uris": [CALLBACK], "token_endpoint_auth_method": "private_key_jwt"},
     "invalid_client_metadata"),
    ({"redirect_uris": [CALLBACK], "response_types": ["token"]}, "invalid_client_metadata"),
    ({"redirect_uris": "https://app.example/cb"}, "invalid_redirect_uri"),
])
def test_bad_metadata_is_refused(open_client, metadata, error):
    assert_oauth_error(open_client.post("/oauth/register", json=metadata), 400, error)


def test_a_registered_secret_works_at_the_token_endpoint(open_client):
    body = open_client.post("/oauth/register", json={"redirect_uris": [CALLBACK]}).get_json()
    response = open_client.post("/oauth/token", data={"grant_type": "client_credentials"},
                                headers=basic(body["client_id"], body["client_secret"]))
    assert_oauth_error(response, 400, "unauthorized_client")  # it signs users in only


def test_a_registered_client_may_not_use_a_private_use_scheme(make_app):
    """The contract: a registered client's `redirect_uris` are https, or loopback http (a
    native app with a private-use scheme is registered by an operator)."""
    client = make_app(AUTHAPI_REGISTRATION="open").test_client()
    response = client.post("/oauth/register", json={"redirect_uris": ["com.example.app:/cb"]})
    assert_oauth_error(response, 400, "invalid_redirect_uri")
    for uri in ("https://app.example/cb", "http://127.0.0.1/cb", "http://localhost:7/cb"):
        assert client.post("/oauth/register", json={"redirect_uris": [uri]}).status_code == 201


@pytest.mark.parametrize("grants", [["refresh_token"], ["client_credentials"]])
def test_grant_types_it_cannot_have_are_invalid_client_metadata(make_app, grants):
    """RFC 7591 §3.2.2: invalid_redirect_uri only for the redirect URIs themselves."""
    client = make_app(AUTHAPI_REGISTRATION="open").test_client()
    response = client.post("/oauth/register", json={"redirect_uris": [CALLBACK],
                                                    "grant_types": grants})
    assert_oauth_error(response, 400, "invalid_client_metadata")
