"""Third-party clients prove each flow: PyJWT's PyJWKClient and Authlib's OAuth 2 client."""

from __future__ import annotations

import json
import time

import jwt
import pytest
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from conftest import PASSWORD

ISSUER = "http://localhost:8000"  # the server's default AUTHAPI_ISSUER and AUTHAPI_AUDIENCE


@pytest.fixture
def server(serve):
    return serve("--workers", "1", env={"AUTHAPI_KEY_REFRESH_INTERVAL": "0"})


@pytest.fixture
def client_of(cli, tmp_path):
    """Register a client with the CLI (on the server's database); returns its JSON."""

    def register(*args: str) -> dict:
        result = cli("clients", "create", "--name", "interop", "--scope", "orders:read", *args)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    return register


def verify_with_pyjwkclient(server, token: str) -> dict:
    signing_key = jwt.PyJWKClient(server.base_url + "/.well-known/jwks.json"
                                  ).get_signing_key_from_jwt(token)
    return jwt.decode(token, signing_key.key, algorithms=["RS256"], audience=ISSUER,
                      issuer=ISSUER)


def test_authlib_client_secret_basic_then_pyjwkclient(server, client_of):
    created = client_of()
    with OAuth2Session(created["client_id"], created["client_secret"],
                       token_endpoint_auth_method="client_secret_basic") as session:
        token = session.fetch_token(server.base_url + "/oauth/token",
                                    grant_type="client_credentials")
    assert token["token_type"] == "Bearer" and token["scope"] == "orders:read"
    claims = verify_with_pyjwkclient(server, token["access_token"])
    assert claims["sub"] == claims["client_id"] == created["client_id"]


def test_authlib_private_key_jwt(server, client_of, tmp_path):
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = RSAAlgorithm.to_jwk(private.public_key(), as_dict=True) | {"kid": "k1", "alg": "RS256"}
    (tmp_path / "jwks.json").write_text(json.dumps({"keys": [jwk]}))
    created = client_of("--jwks-file", str(tmp_path / "jwks.json"))
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    with OAuth2Session(created["client_id"], pem,
                       token_endpoint_auth_method="private_key_jwt") as session:
        # Authlib's assertions live an hour by default; the contract allows 5 minutes.
        session.register_client_auth_method(PrivateKeyJWT(
            ISSUER + "/oauth/token", claims={"exp": int(time.time()) + 300}))
        token = session.fetch_token(server.base_url + "/oauth/token",
                                    grant_type="client_credentials")
    assert verify_with_pyjwkclient(server, token["access_token"])["sub"] == created["client_id"]


def test_pyjwkclient_verifies_old_and_new_tokens_across_a_rotation(server, cli):
    credentials = {"email": "interop@example.com", "password": PASSWORD}
    assert server.request("POST", "/auth/register", credentials)[0] == 201
    old = server.request("POST", "/auth/login", credentials)[1]["access_token"]
    assert cli("keys", "rotate").returncode == 0
    new = server.request("POST", "/auth/login", credentials)[1]["access_token"]
    assert jwt.get_unverified_header(old)["kid"] != jwt.get_unverified_header(new)["kid"]
    for token in (old, new):
        assert verify_with_pyjwkclient(server, token)["type"] == "access"
