"""RFC 6749's request rules at the form-encoded /oauth/* endpoints, and RFC 7523's for a
client assertion: blank parameters, a wrong method, attempted client authentication,
an assertion's audience, lifetime and single use (review of 2026-12-05)."""

from __future__ import annotations

import time
import uuid
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from flask import Flask
from jwt.algorithms import ECAlgorithm

from authapi import db
from authapi.oauth import clients
from fixtures.oauth import ACCESS_TYPE, ASSERTION_TYPE, EXCHANGE, assert_oauth_error, basic


class Key:
    """A client's ES256 key, registered as its JWKS (private_key_jwt)."""

    def __init__(self) -> None:
        self.private = ec.generate_private_key(ec.SECP256R1())
        self.jwk = ECAlgorithm.to_jwk(self.private.public_key(), as_dict=True)
        self.jwk.update(kid="k1", use="sig", alg="ES256")

    def assertion(self, client_id: str, aud: str, exp_in: int = 60) -> str:
        now = int(time.time())
        return jwt.encode({"iss": client_id, "sub": client_id, "aud": aud, "iat": now,
                           "exp": now + exp_in, "jti": str(uuid.uuid4())},
                          self.private, algorithm="ES256", headers={"kid": "k1"})


def register(app: Flask, key: Key) -> str:
    with app.app_context():
        created = clients.create("svc", "orders:read", False, {"keys": [key.jwk]})
        db.orm().commit()
        return str(created["client_id"])


def by_assertion(client: Any, assertion: str, **form: str) -> Any:
    return client.post("/oauth/token", data={
        "grant_type": "client_credentials", "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": assertion, **form})


# --- RFC 6749 §3.2: "Parameters sent without a value MUST be treated as if they were
# omitted from the request."

def test_an_empty_scope_is_as_if_omitted(client, make_client):
    registered = make_client(scope="orders:read orders:write")
    response = client.post("/oauth/token", data={"grant_type": "client_credentials", "scope": ""},
                           headers=basic(registered["client_id"], registered["client_secret"]))
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["scope"] == "orders:read orders:write"


def test_an_empty_client_id_beside_basic_is_as_if_omitted(client, make_client):
    registered = make_client()
    response = client.post("/oauth/token", data={"grant_type": "client_credentials",
                                                 "client_id": ""},
                           headers=basic(registered["client_id"], registered["client_secret"]))
    assert response.status_code == 200, response.get_json()


def test_an_empty_requested_token_type_is_as_if_omitted(client, make_client, make_user, login):
    exchanger = make_client(scope="users:read", exchange=True)
    subject = login(make_user(roles=("admin",)))["access_token"]
    response = client.post("/oauth/token", data={
        "grant_type": EXCHANGE, "subject_token": subject, "subject_token_type": ACCESS_TYPE,
        "requested_token_type": ""},
        headers=basic(exchanger["client_id"], exchanger["client_secret"]))
    assert response.status_code == 200, response.get_json()


@pytest.mark.parametrize(("method", "path"), [
    ("get", "/oauth/token"), ("put", "/oauth/token"), ("get", "/oauth/introspect"),
    ("get", "/oauth/revoke"), ("get", "/oauth/par"), ("get", "/oauth/device_authorization"),
])
def test_a_wrong_method_is_answered_in_rfc_6749_form(client, method, path):
    response = getattr(client, method)(path)
    assert "POST" in response.headers["Allow"]
    assert_oauth_error(response, 405, "method_not_allowed")


def test_a_wrong_method_elsewhere_stays_a_problem(client):
    response = client.put("/auth/login")
    assert response.status_code == 405
    assert response.mimetype == "application/problem+json"


@pytest.mark.parametrize("kind", ["unknown-client", "wrong-secret", "garbage", "post-secret"])
def test_a_refresh_with_failing_client_authentication_is_invalid_client(
        client, make_client, make_user, login, kind):
    """An Authorization header on /oauth/token is client authentication: attempted and
    failed, it is invalid_client (RFC 6749 §5.2), never ignored."""
    registered = make_client()
    pair = login(make_user())
    form = {"grant_type": "refresh_token", "refresh_token": pair["refresh_token"]}
    headers = {"unknown-client": basic("svc_nobody", "nope"),
               "wrong-secret": basic(registered["client_id"], "wrong"),
               "garbage": {"Authorization": "Basic !!!"}, "post-secret": {}}[kind]
    if kind == "post-secret":
        form.update(client_id=registered["client_id"], client_secret="wrong")
    response = client.post("/oauth/token", headers=headers, data=form)
    assert_oauth_error(response, 401, "invalid_client")
    # nothing was spent: the token still refreshes
    assert client.post("/oauth/token", data={
        "grant_type": "refresh_token", "refresh_token": pair["refresh_token"]}).status_code == 200


@pytest.mark.parametrize("exp_in", [301, 315, 325])
def test_an_assertion_living_longer_than_5_minutes_is_invalid_client(app, client, exp_in):
    key = Key()
    client_id = register(app, key)
    response = by_assertion(client, key.assertion(client_id, "http://localhost:8000/oauth/token",
                                                  exp_in=exp_in))
    assert_oauth_error(response, 401, "invalid_client")


def test_an_assertion_for_the_published_issuer_is_accepted_with_its_slash(make_app):
    """RFC 7523 §3 item 3: the issuer identifier, as published, may be the audience."""
    app = make_app(AUTHAPI_ISSUER="http://localhost:8000/")
    client = app.test_client()
    key = Key()
    client_id = register(app, key)
    issuer = client.get("/.well-known/oauth-authorization-server").get_json()["issuer"]
    assert issuer == "http://localhost:8000/"
    response = by_assertion(client, key.assertion(client_id, issuer))
    assert response.status_code == 200, response.get_json()


@pytest.mark.parametrize("first_form", [
    {"scope": "admin"},  # invalid_scope, after the client authenticated
    {"grant_type": "urn:ietf:params:oauth:grant-type:token-exchange"},  # unauthorized_client
])
def test_an_assertion_is_used_once_even_when_its_first_request_failed(app, client, first_form):
    """RFC 7523 §3 item 7: the jti is spent by the authentication, whatever follows it."""
    key = Key()
    client_id = register(app, key)
    assertion = key.assertion(client_id, "http://localhost:8000/oauth/token")
    first = by_assertion(client, assertion, **first_form)
    assert first.status_code == 400, first.get_json()
    assert_oauth_error(by_assertion(client, assertion), 401, "invalid_client")
