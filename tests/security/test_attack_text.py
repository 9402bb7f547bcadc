"""Values compared in constant time may hold any character: a non-ASCII kid, DPoP `ath`
or `nonce`, CSRF value or TOTP code is refused as a wrong one, never a 500.

`hmac.compare_digest` raises TypeError for a str with non-ASCII characters; a review
found four places where a caller's value reached it (each answered 500).
"""

from __future__ import annotations

import base64
import json

import pytest

from authapi.tokens import core
from conftest import PASSWORD, assert_problem, bearer
from fixtures.dpop import DpopClient, dpop_login

ODD = ["\u00e9", "\u0661\u0662", "\ud800", "caf\u00e9-\U0001f511"]


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.mark.parametrize("odd", ODD)
def test_same_text_compares_any_text(odd):
    assert core.same_text(odd, odd)
    assert not core.same_text(odd, "e")
    assert not core.same_text("e", odd)


def test_a_non_ascii_kid_under_hs256_is_token_invalid(make_app):
    app = make_app(AUTHAPI_JWT_ALGORITHM="HS256")
    head = b64(json.dumps({"alg": "HS256", "typ": "at+jwt", "kid": "\u00e9"}).encode())
    token = f"{head}.{b64(json.dumps({'sub': 'x'}).encode())}.{b64(b'x' * 32)}"
    assert_problem(app.test_client().get("/auth/me", headers=bearer(token)),
                   401, "token_invalid")


def test_a_non_ascii_dpop_ath_is_invalid_dpop_proof(client, make_user):
    make_user(email="d@example.com")
    key = DpopClient()
    token = dpop_login(client, "d@example.com", key, PASSWORD)["access_token"]
    response = client.get("/auth/me", headers={
        "Authorization": f"DPoP {token}", "DPoP": key.proof("GET", "/auth/me", ath="\u00e9")})
    assert_problem(response, 401, "invalid_dpop_proof")


def test_a_non_ascii_dpop_nonce_is_use_dpop_nonce(make_app, make_user):
    app = make_app(AUTHAPI_DPOP_NONCE=1)
    key = DpopClient()
    response = app.test_client().post(
        "/auth/login", json={"email": "x@example.com", "password": PASSWORD},
        headers={"DPoP": key.proof("POST", "/auth/login", nonce="\u00e9")})
    assert_problem(response, 401, "use_dpop_nonce")


def test_a_non_ascii_csrf_value_is_csrf_failed(client, make_user):
    make_user(email="c@example.com")
    assert client.post("/auth/login", json={"email": "c@example.com", "password": PASSWORD,
                                            "use_cookies": True}).status_code == 200
    # WSGI hands header bytes over as latin-1: the byte 0xE9 arrives as "é".
    assert_problem(client.post("/auth/refresh", headers={"X-CSRF-TOKEN": "\u00e9"}),
                   401, "csrf_failed")
