"""A confidential server-side app signs a user in with Authlib's OAuth 2 client against a
live `authapi serve` (issue 21, item 5): authorization code + PKCE S256, the `iss`
response parameter, the ID token checked by Authlib's own JWT code against the JWKS,
userinfo and refresh; with client_secret_basic and with private_key_jwt. The browser's
part (sign-in and consent) goes through the headless JSON API with a real cookie jar.
"""

from __future__ import annotations

import json
import secrets
import time
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from joserfc import jwt as jose_jwt
from joserfc.jwk import KeySet
from jwt.algorithms import RSAAlgorithm

from conftest import PASSWORD

EMAIL = "interop@example.com"


@pytest.fixture
def server(serve, cli):
    live = serve("--workers", "1", public_host="127.0.0.1")
    result = cli("users", "create", "--email", EMAIL, "--password-stdin", stdin=PASSWORD + "\n")
    assert result.returncode == 0, result.stderr
    return live


def register(cli, base_url: str, *args: str) -> dict:
    result = cli("clients", "create", "--name", "Server app", "--redirect-uri",
                 base_url + "/callback-of-the-app", *args)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def browser_signs_in(authorize_url: str, base_url: str) -> str:
    """What the user's browser does: follow authorize, sign in, consent; the callback URL."""
    browser = requests.Session()
    answer = browser.get(authorize_url, allow_redirects=False, timeout=10)
    assert answer.status_code == 302, answer.text
    request_id = parse_qs(urlsplit(answer.headers["Location"]).query)["request"][0]
    base = f"{base_url}/oauth/requests/{request_id}"
    step = browser.post(base + "/login", json={"email": EMAIL, "password": PASSWORD},
                        timeout=10).json()
    assert browser.get(base, timeout=10).json()["needs"] == "consent"
    step = browser.post(base + "/consent", json={"approve": True}, timeout=10).json()
    return str(step["redirect_to"])


def check_id_token(base_url: str, id_token: str, client_id: str, nonce: str) -> dict:
    """Authlib's JOSE library (joserfc) verifies it against the published keys."""
    keys = KeySet.import_key_set(requests.get(base_url + "/.well-known/jwks.json",
                                              timeout=10).json())
    token = jose_jwt.decode(id_token, keys, algorithms=["RS256"])
    jose_jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": base_url}, aud={"essential": True, "value": client_id},
        nonce={"essential": True, "value": nonce}, exp={"essential": True},
        sub={"essential": True}).validate(token.claims)
    return dict(token.claims)


def sign_in_with(session: OAuth2Session, base_url: str, client_id: str) -> dict:
    metadata = requests.get(base_url + "/.well-known/openid-configuration", timeout=10).json()
    verifier, nonce = secrets.token_urlsafe(48), secrets.token_urlsafe(12)
    url, state = session.create_authorization_url(
        metadata["authorization_endpoint"], code_verifier=verifier, nonce=nonce,
        scope="openid email offline_access")
    callback = browser_signs_in(url, base_url)
    answer = parse_qs(urlsplit(callback).query)
    assert answer["state"] == [state] and answer["iss"] == [metadata["issuer"]]  # RFC 9207
    token = session.fetch_token(metadata["token_endpoint"], authorization_response=callback,
                                code_verifier=verifier)
    claims = check_id_token(base_url, token["id_token"], client_id, nonce)
    assert claims["email"] == EMAIL and claims["acr"] == "pwd"
    info = session.get(metadata["userinfo_endpoint"], timeout=10).json()
    assert info["sub"] == claims["sub"] and info["email"] == EMAIL
    refreshed = session.refresh_token(metadata["token_endpoint"])
    assert refreshed["access_token"] != token["access_token"]
    return token


def test_authlib_client_secret_basic(server, cli):
    app = register(cli, server.base_url)
    with OAuth2Session(app["client_id"], app["client_secret"],
                       redirect_uri=server.base_url + "/callback-of-the-app",
                       code_challenge_method="S256",
                       token_endpoint_auth_method="client_secret_basic") as session:
        sign_in_with(session, server.base_url, app["client_id"])


class ShortLivedAssertion(PrivateKeyJWT):
    """Authlib signs hour-long assertions; authapi takes 5 minutes at most. Fresh claims
    per request: Authlib writes the jti into the dict it is given."""

    def sign(self, auth, token_endpoint):  # type: ignore[no-untyped-def]
        self.claims = {"exp": int(time.time()) + 240}
        return super().sign(auth, token_endpoint)


def test_authlib_private_key_jwt(server, cli, tmp_path):
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = RSAAlgorithm.to_jwk(private.public_key(), as_dict=True) | {"kid": "k1", "alg": "RS256"}
    (tmp_path / "jwks.json").write_text(json.dumps({"keys": [jwk]}))
    app = register(cli, server.base_url, "--jwks-file", str(tmp_path / "jwks.json"))
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    token_endpoint = server.base_url + "/oauth/token"
    with OAuth2Session(app["client_id"], pem,
                       redirect_uri=server.base_url + "/callback-of-the-app",
                       code_challenge_method="S256",
                       token_endpoint_auth_method=ShortLivedAssertion(
                           token_endpoint, alg="RS256", headers={"kid": "k1"})) as session:
        sign_in_with(session, server.base_url, app["client_id"])
