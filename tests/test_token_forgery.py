"""The contract's verification list, each rejection forged for real (RFC 8725, RFC 6750 §3.1)."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import get_default_algorithms

from authapi import db
from authapi.tokens import keys
from conftest import PASSWORD, bearer

INVALID_TOKEN = 'Bearer error="invalid_token"'
TYP = {"access": "at+jwt", "refresh": "JWT"}
OTHER = {"access": "refresh", "refresh": "access"}
ALGORITHMS = get_default_algorithms()
STRANGER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def compact(header: dict[str, Any], claims: dict[str, Any], key: Any) -> str:
    """A JWS built by hand, so that nothing refuses to make the forgery."""
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    alg = header["alg"]
    signature = b"" if alg.lower() == "none" else ALGORITHMS[alg].sign(signing_input.encode(), key)
    return f"{signing_input}.{b64(signature)}"


def flip_signature(token: str) -> str:
    head, body, signature = token.split(".")
    raw = bytearray(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)))
    raw[len(raw) // 2] ^= 0x01
    return f"{head}.{body}.{b64(bytes(raw))}"


BASE64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def respell(segment: str) -> str:
    """The same bytes spelled differently: the lowest (unused) bit of the last character
    set, so only a canonical decoder tells the two apart."""
    assert len(segment) % 4 in (2, 3), segment
    return segment[:-1] + BASE64URL[BASE64URL.index(segment[-1]) ^ 1]


def flip_unused_bit(token: str) -> str:
    """The same token, its signature respelled."""
    head, body, signature = token.split(".")
    return f"{head}.{body}.{respell(signature)}"


class Forge:
    """Re-signs a real user's real claims, changed as a test asks, with any key."""

    def __init__(self, kid: str, key: Any, claims: dict[str, dict[str, Any]]) -> None:
        self.kid, self.key, self.claims = kid, key, claims
        self.public_pem = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)

    def token(self, kind: str, *, alg: str = "RS256", key: Any = None,
              header: dict[str, Any] | None = None, **changes: Any) -> str:
        head = {"alg": alg, "typ": TYP[kind], "kid": self.kid, **(header or {})}
        body = {**self.claims[kind], **changes}
        drop = lambda d: {k: v for k, v in d.items() if v is not None}  # noqa: E731
        return compact(drop(head), drop(body), self.key if key is None else key)


@pytest.fixture
def forge(app, make_user, login) -> Forge:
    pair = login(make_user())
    with app.app_context():
        kid, key = keys.keyring().signing_key(db.orm)
    claims = {kind: jwt.decode(pair[f"{kind}_token"], options={"verify_signature": False})
              for kind in TYP}
    return Forge(kid, key, claims)


def present(client, kind: str, token: str):
    if kind == "access":
        return client.get("/auth/me", headers=bearer(token))
    return client.post("/auth/refresh", headers=bearer(token))


def assert_rejected(response, code: str) -> None:
    assert response.status_code == 401, response.get_json()
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["code"] == code
    assert response.headers["WWW-Authenticate"] == INVALID_TOKEN


Forgery = Callable[[Forge, str], str]
FORGERIES: dict[str, Forgery] = {
    "bad_signature": lambda f, kind: flip_signature(f.token(kind)),
    "non_canonical_signature": lambda f, kind: flip_unused_bit(f.token(kind)),
    "alg_none": lambda f, kind: f.token(kind, alg="none"),
    "alg_None": lambda f, kind: f.token(kind, alg="None"),
    "hs256_keyed_with_public_pem": lambda f, kind: f.token(kind, alg="HS256", key=f.public_pem),
    "rs512_real_key": lambda f, kind: f.token(kind, alg="RS512"),
    "ps256_real_key": lambda f, kind: f.token(kind, alg="PS256"),
    "stranger_key_real_kid": lambda f, kind: f.token(kind, key=STRANGER_KEY),
    "unknown_kid": lambda f, kind: f.token(kind, header={"kid": "no-such-kid"}),
    "missing_kid": lambda f, kind: f.token(kind, header={"kid": None}),
    "numeric_kid": lambda f, kind: f.token(kind, header={"kid": 7}),
    "wrong_iss": lambda f, kind: f.token(kind, iss="https://evil.example"),
    "missing_iss": lambda f, kind: f.token(kind, iss=None),
    "missing_exp": lambda f, kind: f.token(kind, exp=None),
    "nbf_in_future": lambda f, kind: f.token(kind, nbf=int(time.time()) + 3600),
    "iat_in_future": lambda f, kind: f.token(kind, iat=int(time.time()) + 3600),
    "crit_header": lambda f, kind: f.token(kind, header={"crit": ["x-ext"], "x-ext": 1}),
    "extra_segment": lambda f, kind: f.token(kind) + ".e30",
    "wrong_type_claim": lambda f, kind: f.token(kind, type=OTHER[kind]),
    "wrong_header_typ": lambda f, kind: f.token(kind, header={"typ": TYP[OTHER[kind]]}),
    "missing_header_typ": lambda f, kind: f.token(kind, header={"typ": None}),
}
ACCESS_ONLY: dict[str, Forgery] = {
    "wrong_aud": lambda f, kind: f.token(kind, aud="https://other.example"),
    "missing_aud": lambda f, kind: f.token(kind, aud=None),
    "aud_list_without_ours": lambda f, kind: f.token(kind, aud=["https://other.example"]),
    # authapi's own access-token verifier insists on JSON numbers (RFC 7519 §2 NumericDate);
    # refresh tokens go through PyJWT, which coerces digit strings.
    "exp_as_string": lambda f, kind: f.token(kind, exp=str(int(time.time()) + 3600)),
}
CASES = [pytest.param(kind, forgery, id=f"{kind}-{name}")
         for kind in TYP
         for name, forgery in {**FORGERIES, **(ACCESS_ONLY if kind == "access" else {})}.items()]


@pytest.mark.parametrize("kind", TYP)
def test_resigned_real_claims_are_accepted(client, forge, kind):
    response = present(client, kind, forge.token(kind))
    assert response.status_code == 200, response.get_json()


@pytest.mark.parametrize(("kind", "forgery"), CASES)
def test_forged_token_is_refused(client, forge, kind, forgery):
    assert_rejected(present(client, kind, forgery(forge, kind)), "token_invalid")


@pytest.mark.parametrize("kind", TYP)
def test_expired_token_is_refused(client, forge, kind):
    now = int(time.time())
    token = forge.token(kind, iat=now - 120, nbf=now - 120, exp=now - 60)
    assert_rejected(present(client, kind, token), "token_expired")


@pytest.mark.parametrize("kind", TYP)
def test_token_of_the_other_type_is_refused(client, make_user, login, kind):
    pair = login(make_user())
    assert_rejected(present(client, kind, pair[f"{OTHER[kind]}_token"]), "token_invalid")


@pytest.mark.parametrize("kind", TYP)
def test_token_of_a_logged_out_session_is_revoked(client, make_user, login, kind):
    pair = login(make_user())
    assert client.post("/auth/logout", headers=bearer(pair["access_token"])).status_code == 204
    assert_rejected(present(client, kind, pair[f"{kind}_token"]), "token_revoked")


def login_on(app, email: str) -> dict[str, Any]:
    response = app.test_client().post("/auth/login", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


@pytest.mark.parametrize("algorithm", ["RS256", "ES256", "EdDSA", "HS256"])
def test_configured_algorithm_is_in_every_header(make_app, make_user, algorithm):
    make_user(email="alg@example.com")
    pair = login_on(make_app(AUTHAPI_JWT_ALGORITHM=algorithm), "alg@example.com")
    access = jwt.get_unverified_header(pair["access_token"])
    assert access["alg"] == algorithm and access["kid"]
    # Only authapi verifies a refresh token: HS256 under a key derived from the signing
    # key, with its kid (API.md "Tokens"; tests/test_refresh_key.py).
    refresh = jwt.get_unverified_header(pair["refresh_token"])
    assert refresh == {"alg": "HS256", "kid": access["kid"], "typ": "JWT"}


@pytest.mark.parametrize("algorithm", ["RS256", "ES256", "EdDSA", "HS256"])
def test_configured_algorithm_works_end_to_end(make_app, make_user, algorithm):
    make_user(email="e2e@example.com")
    app = make_app(AUTHAPI_JWT_ALGORITHM=algorithm)
    client = app.test_client()
    pair = login_on(app, "e2e@example.com")
    refreshed = client.post("/auth/refresh", headers=bearer(pair["refresh_token"]))
    assert refreshed.status_code == 200, refreshed.get_json()
    me = client.get("/auth/me", headers=bearer(refreshed.get_json()["access_token"]))
    assert me.status_code == 200
    assert me.get_json()["email"] == "e2e@example.com"


@pytest.mark.parametrize(("issuer", "verifier"), [
    ("RS256", "ES256"), ("ES256", "RS256"), ("EdDSA", "ES256"), ("HS256", "RS256"),
    ("RS256", "HS256"), ("RS256", "EdDSA"),
])
@pytest.mark.parametrize("kind", TYP)
def test_token_of_another_algorithm_is_refused(make_app, make_user, issuer, verifier, kind):
    make_user(email="cross@example.com")
    pair = login_on(make_app(AUTHAPI_JWT_ALGORITHM=issuer), "cross@example.com")
    client = make_app(AUTHAPI_JWT_ALGORITHM=verifier).test_client()
    assert_rejected(present(client, kind, pair[f"{kind}_token"]), "token_invalid")


def test_hs256_token_under_another_secret_is_refused(make_app, make_user):
    make_user(email="hs@example.com")
    pair = login_on(make_app(AUTHAPI_JWT_ALGORITHM="HS256"), "hs@example.com")
    other = make_app(AUTHAPI_JWT_ALGORITHM="HS256", AUTHAPI_SECRET_KEY="x" * 40)
    assert_rejected(present(other.test_client(), "access", pair["access_token"]), "token_invalid")


def test_token_verified_earlier_still_expires(client, make_user, login, monkeypatch):
    token = login(make_user())["access_token"]
    assert client.get("/auth/me", headers=bearer(token)).status_code == 200
    later = time.time() + 3600  # past the 15-minute access TTL, no sleeping
    monkeypatch.setattr(time, "time", lambda: later)
    assert_rejected(client.get("/auth/me", headers=bearer(token)), "token_expired")
