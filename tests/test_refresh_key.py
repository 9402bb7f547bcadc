"""Refresh tokens under a key derived from the signing key (API.md "Tokens"; issue 23
item 1): HS256, the signing key's `kid`, never published. One asymmetric signature
per refresh; refresh tokens signed before the change keep working until they expire."""

from __future__ import annotations

import time

import jwt
import pytest

from authapi import db
from authapi.tokens import keys
from conftest import PASSWORD, bearer
from test_keys import jwks, rotate

EMAIL = "refresh-key@example.com"


def pair_on(app) -> dict[str, str]:
    answer = app.test_client().post("/auth/login", json={"email": EMAIL, "password": PASSWORD})
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()


def refresh(app, token: str):
    return app.test_client().post("/auth/refresh", headers=bearer(token))


@pytest.fixture(autouse=True)
def user(make_user):
    make_user(email=EMAIL)


def test_a_refresh_token_is_hs256_under_the_access_tokens_kid(app, client):
    pair = pair_on(app)
    refresh_header = jwt.get_unverified_header(pair["refresh_token"])
    access_header = jwt.get_unverified_header(pair["access_token"])
    assert refresh_header["alg"] == "HS256" and access_header["alg"] == "RS256"
    assert refresh_header["kid"] == access_header["kid"]
    published = jwks(client)
    assert [k["alg"] for k in published] == ["RS256"]  # the derived key is never published
    assert refresh(app, pair["refresh_token"]).status_code == 200


def test_the_derived_key_is_the_only_hs256_key_a_refresh_token_may_use(app):
    pair = pair_on(app)
    claims = jwt.decode(pair["refresh_token"], options={"verify_signature": False})
    kid = jwt.get_unverified_header(pair["refresh_token"])["kid"]
    with app.app_context():
        _, private_key = keys.keyring().signing_key(db.orm)
        other = keys.refresh_key(private_key, "another-kid")  # derived for another kid
    for key in (other, app.config["AUTHAPI_SECRET_KEY"].encode(), b"x" * 32):
        forged = jwt.encode(claims, key, algorithm="HS256",
                            headers={"kid": kid, "typ": "JWT"})
        answer = refresh(app, forged)
        assert answer.status_code == 401 and answer.get_json()["code"] == "token_invalid"


def test_a_refresh_token_signed_before_the_change_still_refreshes(app):
    """An upgrade signs out nobody: RS256 refresh tokens issued before keep working."""
    pair = pair_on(app)
    claims = jwt.decode(pair["refresh_token"], options={"verify_signature": False})
    with app.app_context():
        kid, private_key = keys.keyring().signing_key(db.orm)
    # The same session's current refresh token, as the previous release signed it.
    legacy = jwt.encode(claims, private_key, algorithm="RS256",
                        headers={"kid": kid, "typ": "JWT"})
    answer = refresh(app, legacy)
    assert answer.status_code == 200, answer.get_json()
    assert jwt.get_unverified_header(answer.get_json()["refresh_token"])["alg"] == "HS256"


@pytest.mark.parametrize("instance", ["same", "restarted"])
def test_a_refresh_token_outlives_a_key_rotation(app, make_app, instance):
    pair = pair_on(app)
    old_kid = jwt.get_unverified_header(pair["refresh_token"])["kid"]
    new_kid = rotate(app)
    server = app if instance == "same" else make_app()
    if instance == "same":  # the running instance signs with the new key after its interval
        server.extensions["authapi.keyring"].signing_loaded = time.monotonic() - 3600
    answer = refresh(server, pair["refresh_token"])
    assert answer.status_code == 200, answer.get_json()
    renewed = answer.get_json()["refresh_token"]
    assert jwt.get_unverified_header(renewed)["kid"] == new_kid != old_kid
    assert refresh(server, renewed).status_code == 200


def test_under_hs256_a_refresh_token_is_signed_with_the_secret_as_before(make_app):
    app = make_app(AUTHAPI_JWT_ALGORITHM="HS256")
    pair = pair_on(app)
    header = jwt.get_unverified_header(pair["refresh_token"])
    assert header["alg"] == "HS256" and header["kid"] == keys.hmac_kid(
        app.config["AUTHAPI_SECRET_KEY"])
    jwt.decode(pair["refresh_token"], app.config["AUTHAPI_SECRET_KEY"], algorithms=["HS256"],
               options={"verify_aud": False})
    assert refresh(app, pair["refresh_token"]).status_code == 200
