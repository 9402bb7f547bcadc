"""POST /oauth/token: client credentials (secret and private_key_jwt) and refresh_token."""

from __future__ import annotations

import jwt
import pytest
from sqlalchemy import select

from authapi import db
from authapi.models import AuditEvent, Client
from conftest import assert_problem, bearer
from fixtures.oauth import ASSERTION_TYPE, assert_oauth_error, basic


def claims_of(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def test_client_credentials_with_basic_issues_a_client_token(client, make_client, client_token):
    registered = make_client()
    response = client_token(registered)
    body = response.get_json()
    assert response.status_code == 200, body
    assert response.headers["Cache-Control"] == "no-store"
    assert body["token_type"] == "Bearer" and body["expires_in"] == 900
    assert body["scope"] == "orders:read orders:write"
    claims = claims_of(body["access_token"])
    assert claims["sub"] == claims["client_id"] == registered["client_id"]
    assert claims["roles"] == [] and claims["type"] == "access" and "sid" not in claims


def test_a_client_token_passes_the_servers_own_checks(client, make_client, client_token):
    registered = make_client()
    token = client_token(registered).get_json()["access_token"]
    response = client.get("/auth/check?scope=orders:read", headers=bearer(token))
    assert response.status_code == 200
    assert response.headers["X-Auth-Subject"] == registered["client_id"]


def test_client_secret_post_is_accepted(client, make_client):
    registered = make_client()
    response = client.post("/oauth/token", data={
        "grant_type": "client_credentials", "client_id": registered["client_id"],
        "client_secret": registered["client_secret"]})
    assert response.status_code == 200, response.get_json()


@pytest.mark.parametrize("requested, granted", [
    ("orders:read", "orders:read"),
    ("orders:write orders:read", "orders:read orders:write"),
])
def test_a_requested_scope_within_the_clients_is_granted(make_client, client_token, requested,
                                                         granted):
    body = client_token(make_client(), scope=requested).get_json()
    assert body["scope"] == granted == claims_of(body["access_token"])["scope"]


@pytest.mark.parametrize("requested", ["admin", "orders:read users:write"])
def test_a_scope_beyond_the_clients_is_invalid_scope(make_client, client_token, requested):
    assert_oauth_error(client_token(make_client(), scope=requested), 400, "invalid_scope")


@pytest.mark.parametrize("headers, form", [
    (basic("svc_unknown", "secret"), {}),
    ("wrong-secret", {}),
    ({"Authorization": "Basic !!!notbase64"}, {}),
    ({"Authorization": "Basic " + "bm9jb2xvbg=="}, {}),  # "nocolon"
    ({"Authorization": "Basic é"}, {}),
    ({"Authorization": "Basic //79"}, {}),  # not UTF-8
    ({}, {}),
    ({}, {"client_id": "CLIENT"}),
    ({}, {"client_id": "CLIENT", "client_secret": ""}),
])
def test_bad_client_authentication_is_invalid_client(client, make_client, headers, form):
    registered = make_client()
    if headers == "wrong-secret":
        headers = basic(registered["client_id"], registered["client_secret"] + "x")
    form = {k: v.replace("CLIENT", registered["client_id"]) for k, v in form.items()}
    response = client.post("/oauth/token", headers=headers,
                           data={"grant_type": "client_credentials", **form})
    assert_oauth_error(response, 401, "invalid_client")
    assert response.headers["WWW-Authenticate"].startswith("Basic")


def test_two_authentication_methods_at_once_are_invalid_request(client, make_client):
    registered = make_client()
    response = client.post("/oauth/token", headers=basic(registered["client_id"],
                                                          registered["client_secret"]),
                           data={"grant_type": "client_credentials",
                                 "client_secret": registered["client_secret"]})
    assert_oauth_error(response, 400, "invalid_request")


@pytest.mark.parametrize("data, error", [
    ({"grant_type": "password"}, "unsupported_grant_type"),
    ({"grant_type": "authorization_code"}, "unauthorized_client"),  # a service: no code grant
    ({}, "invalid_request"),
    ({"grant_type": ["client_credentials", "client_credentials"]}, "invalid_request"),
    ({"grant_type": "client_credentials\x00"}, "invalid_request"),
])
def test_bad_grant_parameters(client, make_client, data, error):
    registered = make_client()
    response = client.post("/oauth/token", data=data,
                           headers=basic(registered["client_id"], registered["client_secret"]))
    assert_oauth_error(response, 400, error)


@pytest.mark.parametrize("path", ["/oauth/token", "/oauth/introspect", "/oauth/revoke",
                                  "/oauth/par"])
@pytest.mark.parametrize("value", [b"\xff", b"%ff", b"%C3"])
def test_a_body_that_is_not_utf8_is_invalid_request(client, make_client, path, value):
    registered = make_client()
    response = client.post(path, data=b"grant_type=client_credentials&token=" + value,
                           content_type="application/x-www-form-urlencoded",
                           headers=basic(registered["client_id"], registered["client_secret"]))
    assert_oauth_error(response, 400, "invalid_request")
    assert "UTF-8" in response.get_json()["error_description"]


def test_form_values_are_percent_decoded_and_plus_is_a_space(client, make_client):
    registered = make_client(scope="orders:read")
    body = b"grant_type=client%5Fcredentials&scope=orders%3Aread+"
    response = client.post("/oauth/token", data=body,
                           content_type="application/x-www-form-urlencoded",
                           headers=basic(registered["client_id"], registered["client_secret"]))
    assert response.status_code == 200 and response.get_json()["scope"] == "orders:read"


def test_a_json_body_is_invalid_request(client):
    response = client.post("/oauth/token", json={"grant_type": "client_credentials"})
    assert_oauth_error(response, 400, "invalid_request")


def test_a_disabled_client_is_invalid_client(app, make_client, client_token):
    registered = make_client()
    with app.app_context():
        db.orm().get(Client, registered["id"]).disabled = True
        db.orm().commit()
    assert_oauth_error(client_token(registered), 401, "invalid_client")


def test_each_client_token_is_audited(app, make_client, client_token):
    registered = make_client()
    assert client_token(registered).status_code == 200
    with app.app_context():
        events = db.orm().scalars(select(AuditEvent).where(AuditEvent.event == "client_token"))
        assert [e.client_id for e in events] == [registered["client_id"]]


def test_failed_token_requests_are_rate_limited_per_address(make_app, make_client):
    app = make_app(AUTHAPI_TOKEN_FAILURE_RATE="2 per minute")
    client = app.test_client()
    form = {"grant_type": "client_credentials", "client_id": "x", "client_secret": "y"}
    statuses = [client.post("/oauth/token", data=form).status_code for _ in range(3)]
    assert statuses == [401, 401, 429]
    assert_oauth_error(client.post("/oauth/token", data=form), 429, "rate_limited")


# --- private_key_jwt (RFC 7523) ----------------------------------------------------------

def assertion_form(assertion: str) -> dict[str, str]:
    return {"grant_type": "client_credentials", "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": assertion}


@pytest.mark.parametrize("aud", ["http://localhost:8000/oauth/token", "http://localhost:8000"])
def test_private_key_jwt_is_accepted(client, make_client, keypair, aud):
    registered = make_client(jwks=keypair.jwks)
    assert registered["client_secret"] is None
    response = client.post("/oauth/token", data=assertion_form(
        keypair.assertion(registered["client_id"], aud=aud)))
    assert response.status_code == 200, response.get_json()
    assert claims_of(response.get_json()["access_token"])["sub"] == registered["client_id"]


def test_a_replayed_assertion_is_invalid_client(client, make_client, keypair):
    registered = make_client(jwks=keypair.jwks)
    form = assertion_form(keypair.assertion(registered["client_id"]))
    assert client.post("/oauth/token", data=form).status_code == 200
    assert_oauth_error(client.post("/oauth/token", data=form), 401, "invalid_client")


@pytest.mark.parametrize("claims", [
    {"aud": "https://elsewhere.example/token"},
    {"sub": "svc_someone_else"},
    {"exp": 4_000_000_000},  # far more than 5 minutes ahead
    {"exp": 1_000_000_000},  # long expired
    {"jti": None},
])
def test_a_bad_assertion_is_invalid_client(client, make_client, keypair, claims):
    registered = make_client(jwks=keypair.jwks)
    if claims.get("jti", "") is None:
        assertion = keypair.assertion(registered["client_id"])
        payload = claims_of(assertion)
        del payload["jti"]
        assertion = jwt.encode(payload, keypair.private, algorithm="ES256",
                               headers={"kid": "k1"})
    else:
        assertion = keypair.assertion(registered["client_id"], **claims)
    assert_oauth_error(client.post("/oauth/token", data=assertion_form(assertion)),
                       401, "invalid_client")


def test_an_assertion_signed_by_another_key_is_invalid_client(client, make_client, keypair):
    from fixtures.oauth import KeyPair
    registered = make_client(jwks=keypair.jwks)
    forged = KeyPair().assertion(registered["client_id"])
    assert_oauth_error(client.post("/oauth/token", data=assertion_form(forged)),
                       401, "invalid_client")


def test_an_hmac_assertion_is_invalid_client(client, make_client, keypair):
    registered = make_client(jwks=keypair.jwks)
    forged = jwt.encode({**claims_of(keypair.assertion(registered["client_id"]))},
                        "x" * 32, algorithm="HS256", headers={"kid": "k1"})
    assert_oauth_error(client.post("/oauth/token", data=assertion_form(forged)),
                       401, "invalid_client")


def test_a_wrong_assertion_type_is_invalid_request(client, make_client, keypair):
    registered = make_client(jwks=keypair.jwks)
    form = {**assertion_form(keypair.assertion(registered["client_id"])),
            "client_assertion_type": "urn:example:other"}
    assert_oauth_error(client.post("/oauth/token", data=form), 400, "invalid_request")


# --- refresh_token: the same rotation as /auth/refresh --------------------------------------

def test_refresh_token_grant_rotates_the_pair(client, make_user, login):
    pair = login(make_user())
    response = client.post("/oauth/token", data={"grant_type": "refresh_token",
                                                 "refresh_token": pair["refresh_token"]})
    assert response.status_code == 200, response.get_json()
    fresh = response.get_json()
    assert fresh["refresh_token"] != pair["refresh_token"]
    assert client.get("/auth/me", headers=bearer(fresh["access_token"])).status_code == 200


def test_a_reused_refresh_token_is_invalid_grant_and_revokes_the_session(client, make_user,
                                                                         login):
    pair = login(make_user())
    form = {"grant_type": "refresh_token", "refresh_token": pair["refresh_token"]}
    fresh = client.post("/oauth/token", data=form).get_json()
    assert_oauth_error(client.post("/oauth/token", data=form), 400, "invalid_grant")
    assert_problem(client.get("/auth/me", headers=bearer(fresh["access_token"])),
                   401, "token_revoked")


@pytest.mark.parametrize("header", ["access", "refresh", "garbage"])
def test_a_bearer_header_never_replaces_the_forms_refresh_token(client, make_user, login,
                                                                header):
    # An Authorization header on /oauth/token is client authentication, never the token.
    pair = login(make_user())
    value = pair.get(f"{header}_token", "garbage")
    response = client.post("/oauth/token", headers=bearer(value),
                           data={"grant_type": "refresh_token",
                                 "refresh_token": pair["refresh_token"]})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["refresh_token"] != pair["refresh_token"]


@pytest.mark.parametrize("form, error", [
    ({"refresh_token": "garbage"}, "invalid_grant"),
    ({}, "invalid_request"),
])
def test_a_bad_refresh_grant(client, form, error):
    response = client.post("/oauth/token", data={"grant_type": "refresh_token", **form})
    assert_oauth_error(response, 400, error)


def test_an_access_token_is_no_refresh_grant(client, make_user, login):
    pair = login(make_user())
    response = client.post("/oauth/token", data={"grant_type": "refresh_token",
                                                 "refresh_token": pair["access_token"]})
    assert_oauth_error(response, 400, "invalid_grant")


@pytest.fixture
def jwks_url(keypair):
    """The client's public keys, served over HTTP on loopback."""
    import threading

    from flask import Flask
    from werkzeug.serving import make_server

    keys_app = Flask("client-keys")
    keys_app.get("/jwks.json")(lambda: keypair.jwks)
    server = make_server("127.0.0.1", 0, keys_app)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/jwks.json"
    server.shutdown()


def test_private_key_jwt_with_keys_fetched_from_a_jwks_url(make_app, keypair, jwks_url):
    from authapi.oauth import clients
    app = make_app(AUTHAPI_ENV="development")  # a loopback key host: development only
    with app.app_context():
        registered = clients.create("remote", "a", jwks_url=jwks_url)
        db.orm().commit()
    form = assertion_form(keypair.assertion(registered["client_id"]))
    assert app.test_client().post("/oauth/token", data=form).status_code == 200


def test_an_assertion_naming_an_algorithm_its_key_cannot_do_is_invalid_client(client,
                                                                              make_client,
                                                                              keypair):
    from cryptography.hazmat.primitives.asymmetric import rsa
    registered = make_client(jwks=keypair.jwks)  # an EC key
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode(claims_of(keypair.assertion(registered["client_id"])), other,
                        algorithm="RS256", headers={"kid": "k1"})
    assert_oauth_error(client.post("/oauth/token", data=assertion_form(forged)),
                       401, "invalid_client")
