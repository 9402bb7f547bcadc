"""Signing keys: JWKS (RFC 7517), rotation without restart, encryption at rest."""

from __future__ import annotations

from typing import Any

import jwt
import pytest
from sqlalchemy import select

from authapi import db
from authapi.models import SigningKey
from authapi.tokens import keys
from conftest import PASSWORD, bearer

ASYMMETRIC = ["RS256", "ES256", "EdDSA"]
# RFC 7518 §6: members that only a private (or symmetric) key has.
PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}


def jwks(client) -> list[dict[str, Any]]:
    response = client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    return response.get_json()["keys"]


def token_on(app, user_email: str) -> str:
    response = app.test_client().post("/auth/login",
                                      json={"email": user_email, "password": PASSWORD})
    assert response.status_code == 200, response.get_json()
    return response.get_json()["access_token"]


def kid_of(token: str) -> str:
    return jwt.get_unverified_header(token)["kid"]


def rotate(app) -> str:
    with app.app_context():
        row = keys.rotate(db.orm(), app.config["AUTHAPI_JWT_ALGORITHM"],
                          app.config["AUTHAPI_SECRET_KEY"])
        db.orm().commit()
        return row.kid


@pytest.fixture
def email(make_user) -> str:
    make_user(email="keys@example.com")
    return "keys@example.com"


@pytest.mark.parametrize("algorithm", ASYMMETRIC)
def test_jwks_publishes_the_signing_key(make_app, algorithm):
    published = jwks(make_app(AUTHAPI_JWT_ALGORITHM=algorithm).test_client())
    mine = [key for key in published if key["alg"] == algorithm]
    assert len(mine) == 1
    assert mine[0]["use"] == "sig"
    assert mine[0]["kty"] == {"RS256": "RSA", "ES256": "EC", "EdDSA": "OKP"}[algorithm]
    assert mine[0]["kid"]


@pytest.mark.parametrize("algorithm", [*ASYMMETRIC, "HS256"])
def test_jwks_has_no_private_members(make_app, algorithm):
    published = jwks(make_app(AUTHAPI_JWT_ALGORITHM=algorithm).test_client())
    for key in published:
        assert PRIVATE_MEMBERS.isdisjoint(key), key
        assert key["kty"] != "oct"


@pytest.mark.parametrize("algorithm", ASYMMETRIC)
def test_token_verifies_with_its_published_key(make_app, email, algorithm):
    app = make_app(AUTHAPI_JWT_ALGORITHM=algorithm)
    token = token_on(app, email)
    (jwk,) = [key for key in jwks(app.test_client()) if key["kid"] == kid_of(token)]
    claims = jwt.decode(token, jwt.PyJWK(jwk).key, algorithms=[algorithm],
                        audience=app.config["AUTHAPI_AUDIENCE"],
                        issuer=app.config["AUTHAPI_ISSUER"])
    assert claims["type"] == "access"


def test_rotation_publishes_the_new_key_and_keeps_the_old(app, client, email):
    old_kid = kid_of(token_on(app, email))
    new_kid = rotate(app)
    published = {key["kid"] for key in jwks(client)}
    assert new_kid != old_kid
    assert {old_kid, new_kid} <= published


@pytest.mark.parametrize("verifier", ["same_instance", "restarted_instance"])
def test_token_signed_before_rotation_still_verifies(app, make_app, email, verifier):
    token = token_on(app, email)
    rotate(app)
    checker = app if verifier == "same_instance" else make_app()
    response = checker.test_client().get("/auth/me", headers=bearer(token))
    assert response.status_code == 200, response.get_json()


def test_running_instance_verifies_a_new_key_at_once(app, client, make_app, email):
    assert client.get("/auth/me", headers=bearer(token_on(app, email))).status_code == 200
    new_kid = rotate(app)
    token = token_on(make_app(), email)  # an instance started after the rotation
    assert kid_of(token) == new_kid
    response = client.get("/auth/me", headers=bearer(token))
    assert response.status_code == 200, response.get_json()


def test_running_instance_signs_with_the_new_key_after_the_interval(make_app, email):
    app = make_app(AUTHAPI_KEY_REFRESH_INTERVAL=0)
    old_kid = kid_of(token_on(app, email))
    new_kid = rotate(app)
    assert new_kid != old_kid
    assert kid_of(token_on(app, email)) == new_kid


def test_signing_key_is_not_reread_within_the_interval(make_app, email):
    app = make_app(AUTHAPI_KEY_REFRESH_INTERVAL=3600)
    old_kid = kid_of(token_on(app, email))
    rotate(app)
    assert kid_of(token_on(app, email)) == old_kid


def test_private_keys_are_encrypted_at_rest(app, email):
    token_on(app, email)
    with app.app_context():
        stored = list(db.orm().scalars(select(SigningKey.private_key)))
    assert stored
    for value in stored:
        assert "PRIVATE KEY" not in value
        assert "BEGIN" not in value


def test_stored_key_is_useless_under_another_secret(app, make_app, email):
    old_kid = kid_of(token_on(app, email))
    other = make_app(AUTHAPI_SECRET_KEY="another-secret-key-of-at-least-32-bytes")
    assert kid_of(token_on(other, email)) != old_kid
