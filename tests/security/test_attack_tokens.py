"""Forged tokens against every place a token is accepted (RFC 8725): all 401, never 5xx.

The forging helpers and the `forge` fixture (a real user's real claims, re-signed
as each case asks) come from test_token_forgery.py; this file adds the header
attacks (jku, x5u, jwk, x5c, hostile kids) and runs every forgery on every route.
"""

from __future__ import annotations

import base64
import time

import pytest
from cryptography.hazmat.primitives import serialization
from jwt.algorithms import RSAAlgorithm

from conftest import bearer
from test_token_forgery import FORGERIES, OTHER, STRANGER_KEY, TYP, Forge, forge  # noqa: F401

STRANGER_JWK = RSAAlgorithm.to_jwk(STRANGER_KEY.public_key(), as_dict=True)
STRANGER_DER = base64.b64encode(STRANGER_KEY.public_key().public_bytes(
    serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)).decode()


def stranger(header: dict) -> object:
    """Signed by the attacker's key, the header pointing at that key."""
    return lambda f, kind: f.token(kind, key=STRANGER_KEY, header=header)


HEADER_ATTACKS = {
    "jku_to_attacker": stranger({"jku": "https://evil.example/jwks.json"}),
    "x5u_to_attacker": stranger({"x5u": "https://evil.example/cert.pem"}),
    "embedded_jwk": stranger({"jwk": STRANGER_JWK}),
    "embedded_jwk_no_kid": stranger({"jwk": STRANGER_JWK, "kid": None}),
    "x5c_chain": stranger({"x5c": [STRANGER_DER]}),
    "kid_path_traversal": lambda f, kind: f.token(kind, header={"kid": "../../../dev/null"}),
    "kid_sql_injection": lambda f, kind: f.token(kind, header={"kid": "x' OR '1'='1"}),
    "kid_huge": lambda f, kind: f.token(kind, header={"kid": "k" * 5000}),
    "kid_null_byte": lambda f, kind: f.token(kind, header={"kid": "a\u0000b"}),
    "kid_object": lambda f, kind: f.token(kind, header={"kid": {"$ne": None}}),
    "alg_NONE_empty_sig": lambda f, kind: f.token(kind, alg="NONE"),
    "hs256_keyed_with_public_pem_stranger_kid": lambda f, kind: f.token(
        kind, alg="HS256", key=f.public_pem, header={"kid": "nope"}),
    "tampered_payload": lambda f, kind: tamper(f.token(kind)),
    "sub_swapped": lambda f, kind: swap_payload(f.token(kind), f.token(kind, sub="someone")),
    "future_nbf_one_hour": lambda f, kind: f.token(kind, nbf=int(time.time()) + 3600),
}
ALL = {**FORGERIES, **HEADER_ATTACKS}

# Where each kind of token is presented.
ROUTES = {
    "access": [("GET", "/auth/me"), ("GET", "/auth/check"), ("POST", "/auth/logout")],
    "refresh": [("POST", "/auth/refresh")],
}
CASES = [pytest.param(kind, method, path, name, id=f"{kind}-{path}-{name}")
         for kind, routes in ROUTES.items() for method, path in routes for name in ALL]


def tamper(token: str) -> str:
    head, body, signature = token.split(".")
    middle = len(body) // 2
    flipped = "A" if body[middle] != "A" else "B"
    return f"{head}.{body[:middle]}{flipped}{body[middle + 1:]}.{signature}"


def swap_payload(real: str, forged: str) -> str:
    """The forged payload under the real token's header and signature."""
    head, _, signature = real.split(".")
    return f"{head}.{forged.split('.')[1]}.{signature}"


@pytest.mark.parametrize(("kind", "method", "path", "name"), CASES)
def test_forged_token_is_refused_everywhere(client, forge, kind, method, path, name):  # noqa: F811
    response = client.open(path, method=method, headers=bearer(ALL[name](forge, kind)))
    assert response.status_code == 401, (name, response.get_json())
    assert response.content_type == "application/problem+json"
    assert response.get_json()["code"] == "token_invalid"
    assert response.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'


WRONG_TYPE = [pytest.param(OTHER[kind], method, path, id=f"{OTHER[kind]}-at-{path}")
              for kind, routes in ROUTES.items() for method, path in routes]


@pytest.mark.parametrize(("kind", "method", "path"), WRONG_TYPE)
def test_a_real_token_of_the_wrong_type_is_refused(client, forge, kind, method, path):  # noqa: F811
    response = client.open(path, method=method, headers=bearer(forge.token(kind)))
    assert response.status_code == 401
    assert response.get_json()["code"] == "token_invalid"
