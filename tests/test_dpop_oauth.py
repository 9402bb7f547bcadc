"""DPoP at the token endpoint (RFC 9449 §5): client credentials, refresh and exchange bind."""

from __future__ import annotations

import pytest

from conftest import PASSWORD, assert_problem
from fixtures.dpop import DpopClient, dpop_login
from fixtures.oauth import assert_oauth_error, basic

TOKEN = "/oauth/token"
EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TYPE = "urn:ietf:params:oauth:token-type:access_token"


@pytest.fixture
def key() -> DpopClient:
    return DpopClient()


def post_token(client, form, key=None, headers=None, **claims):
    proof = {"DPoP": key.proof("POST", TOKEN, **claims)} if key else {}
    return client.post(TOKEN, data=form, headers={**(headers or {}), **proof})


def credentials(registered):
    return basic(registered["client_id"], registered["client_secret"])


def test_client_credentials_with_a_proof_are_bound(client, make_client, key):
    registered = make_client()
    response = post_token(client, {"grant_type": "client_credentials"}, key,
                          credentials(registered))
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["token_type"] == "DPoP"
    intro = client.post("/oauth/introspect", data={"token": body["access_token"]},
                        headers=credentials(registered)).get_json()
    assert intro["cnf"] == {"jkt": key.jkt}
    me = client.get("/auth/check", headers=key.headers("GET", "/auth/check", body["access_token"]))
    assert me.status_code == 200


def test_a_bound_client_token_is_refused_as_bearer(client, make_client, key):
    registered = make_client()
    token = post_token(client, {"grant_type": "client_credentials"}, key,
                       credentials(registered)).get_json()["access_token"]
    response = client.get("/auth/check", headers={"Authorization": f"Bearer {token}"})
    assert_problem(response, 401, "token_invalid")
    assert response.headers["WWW-Authenticate"].startswith("DPoP")


@pytest.mark.parametrize("grant", ["client_credentials", "exchange"])
def test_a_service_that_requires_dpop_is_refused_without_a_proof(client, auth_headers, key,
                                                                 grant):
    """RFC 9449 §5.2 (`dpop_bound_access_tokens`): every token request of a client
    registered with require_dpop carries a proof, whatever the grant."""
    admin = auth_headers(("admin",))
    registered = client.post("/admin/clients", headers=admin, json={
        "name": "svc", "scope": "a", "require_dpop": True}).get_json()
    form = {"grant_type": "client_credentials"}
    if grant == "exchange":
        form = {"grant_type": EXCHANGE, "subject_token_type": ACCESS_TYPE,
                "subject_token": admin["Authorization"].split()[1]}
    refused = post_token(client, form, None, credentials(registered))
    assert_oauth_error(refused, 400, "invalid_dpop_proof")
    assert "WWW-Authenticate" not in refused.headers
    if grant == "client_credentials":
        bound = post_token(client, form, key, credentials(registered))
        assert bound.status_code == 200 and bound.get_json()["token_type"] == "DPoP"


def test_a_bad_proof_at_the_token_endpoint_is_400_invalid_dpop_proof(client, make_client, key):
    registered = make_client()
    response = post_token(client, {"grant_type": "client_credentials"}, key,
                          credentials(registered), htm="GET")
    assert_oauth_error(response, 400, "invalid_dpop_proof")
    assert "WWW-Authenticate" not in response.headers


def test_a_missing_nonce_at_the_token_endpoint_is_400_use_dpop_nonce(make_app, make_client, key):
    client = make_app(AUTHAPI_DPOP_NONCE=1).test_client()
    registered = make_client()
    response = post_token(client, {"grant_type": "client_credentials"}, key,
                          credentials(registered))
    assert_oauth_error(response, 400, "use_dpop_nonce")
    assert response.headers["DPoP-Nonce"]


def test_the_refresh_grant_binds_and_then_needs_the_key(client, make_user, key):
    make_user(email="grant@example.com")
    pair = dpop_login(client, "grant@example.com", key, PASSWORD)
    form = {"grant_type": "refresh_token", "refresh_token": pair["refresh_token"]}
    assert_oauth_error(post_token(client, form, DpopClient()), 400, "invalid_dpop_proof")
    response = post_token(client, form, key)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["token_type"] == "DPoP"


def test_an_exchange_with_a_proof_is_bound_to_the_exchangers_key(
        client, make_client, make_user, login, key):
    registered = make_client(exchange=True, scope="")
    subject = login(make_user())["access_token"]
    form = {"grant_type": EXCHANGE, "subject_token": subject, "subject_token_type": ACCESS_TYPE}
    response = post_token(client, form, key, credentials(registered))
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["token_type"] == "DPoP"


def test_a_bound_subject_token_is_exchanged_only_for_a_bound_token(
        client, make_client, make_user, key):
    registered = make_client(exchange=True, scope="")
    make_user(email="bound@example.com")
    subject = dpop_login(client, "bound@example.com", DpopClient(), PASSWORD)["access_token"]
    form = {"grant_type": EXCHANGE, "subject_token": subject, "subject_token_type": ACCESS_TYPE}
    assert_oauth_error(post_token(client, form, None, credentials(registered)), 400,
                       "invalid_grant")
    response = post_token(client, form, key, credentials(registered))
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["token_type"] == "DPoP"


def test_server_metadata_lists_the_dpop_algorithms(client):
    metadata = client.get("/.well-known/oauth-authorization-server").get_json()
    assert set(metadata["dpop_signing_alg_values_supported"]) == {
        "ES256", "EdDSA", "RS256", "PS256"}
