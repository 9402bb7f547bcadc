"""Tokens: every part of a token, proof or assertion is canonical base64url (a client
assertion, an `id_token_hint`, an access token on a host route), and the JWKS keeps a
retired key while a token it signed lives.

The cases came from the review of 2026-12-05.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from datetime import timedelta

import pytest
from flask import Blueprint
from flask_jwt_extended import jwt_required
from jwt.algorithms import ECAlgorithm
from sqlalchemy import update

from authapi import db
from authapi.db import utcnow
from authapi.models import SigningKey
from conftest import assert_problem, bearer
from fixtures.oauth import ASSERTION_TYPE, assert_oauth_error
from test_host_routes import host_login
from test_keys import email, jwks, kid_of, rotate, token_on  # noqa: F401  (email: a fixture)
from test_provider import Flow, admin, register, user  # noqa: F401  (fixtures)

BASE64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def pad(segment: str) -> str:
    """The same bytes, spelled with the `=` padding base64url drops (RFC 7515 §2)."""
    return segment + "=" * (-len(segment) % 4)


def padded_signature(token: str) -> str:
    head, body, signature = token.split(".")
    assert len(signature) % 4, "a signature whose length is not a multiple of 4"
    return f"{head}.{body}.{pad(signature)}"


def segment(value: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


def padded_head_and_body(keypair, client_id: str) -> str:
    """A client assertion whose header and payload are padded, signed as spelled."""
    now = int(time.time())
    head = pad(segment({"alg": "ES256", "kid": "k1", "typ": "JWT"}))
    body = pad(segment({"iss": client_id, "sub": client_id, "iat": now, "exp": now + 60,
                        "aud": "http://localhost:8000/oauth/token", "jti": str(uuid.uuid4())}))
    assert "=" in head + body
    signature = ECAlgorithm(ECAlgorithm.SHA256).sign(f"{head}.{body}".encode(), keypair.private)
    return f"{head}.{body}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"


ASSERTIONS = {
    "signature": lambda keypair, cid: padded_signature(keypair.assertion(cid)),
    "header and payload": padded_head_and_body,
}


@pytest.mark.parametrize("padded", sorted(ASSERTIONS))
def test_a_client_assertion_with_padding_is_invalid_client(client, make_client, keypair,
                                                           padded):
    """API.md: "Every token, proof and assertion is refused unless each of its parts is
    canonical base64url (no padding, no stray bits)"."""
    registered = make_client(jwks=keypair.jwks)
    assertion = ASSERTIONS[padded](keypair, registered["client_id"])
    response = client.post("/oauth/token", data={
        "grant_type": "client_credentials", "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": assertion})
    assert_oauth_error(response, 401, "invalid_client")


def test_a_padded_access_token_is_refused_on_a_host_route_as_on_auth_me(make_app, make_user):
    """web/hostjwt.py: a host route under `@jwt_required()` gets exactly what authapi's
    guards decide; /auth/me refuses the padded spelling, so the host route does too."""
    app = make_app()
    bp = Blueprint("host", __name__)
    bp.add_url_rule("/host/reports", "reports", jwt_required()(lambda: {"ok": True}))
    app.register_blueprint(bp)
    host = app.test_client()
    make_user(email="pad@example.com")
    spelled = padded_signature(host_login(host, "pad@example.com")["access_token"])
    assert_problem(host.get("/auth/me", headers=bearer(spelled)), 401, "token_invalid")
    assert_problem(host.get("/host/reports", headers=bearer(spelled)), 401, "token_invalid")


def test_a_padded_id_token_hint_is_refused_at_logout(client, register, user):  # noqa: F811
    """The canonical rule holds for "every token": a padded spelling of an ID token
    (which PyJWT would accept) is refused at /oauth/logout, as a respelled one is, and
    ends no sign-in."""
    flow = Flow(client, register())
    id_token = flow.token(flow.sign_in(user)).get_json()["id_token"]
    head, body, signature = id_token.split(".")
    stray = BASE64URL[BASE64URL.index(signature[-1]) ^ 1]  # the same bytes, a stray bit
    respelled = f"{head}.{body}.{signature[:-1]}{stray}"
    assert client.get("/oauth/logout", query_string={"id_token_hint": respelled}
                      ).status_code == 400
    response = client.get("/oauth/logout",
                          query_string={"id_token_hint": padded_signature(id_token)})
    assert response.status_code == 400, (response.status_code, response.headers.get("Location"))


def test_jwks_keeps_a_retired_key_while_a_token_it_signed_lives(make_app, email):  # noqa: F811
    """API.md: the JWKS keeps "old keys ... until every token they signed has expired",
    and instances "sign with the new key within 60 s" of `keys rotate`: a key retired
    45 s ago (tokens live 30 s) still signs on an instance that read it 45 s ago, so it
    stays published. The rotation and the instance's read are moved back, not waited."""
    app = make_app(AUTHAPI_ACCESS_TTL=30, AUTHAPI_REFRESH_TTL=30)
    old_kid = kid_of(token_on(app, email))
    new_kid = rotate(app)
    with app.app_context():
        db.orm().execute(update(SigningKey).where(SigningKey.kid == old_kid)
                         .values(retired_at=utcnow() - timedelta(seconds=45)))
        db.orm().commit()
    app.extensions["authapi.keyring"].signing_loaded -= 45  # still within the 60 s
    token = token_on(app, email)
    assert kid_of(token) == old_kid != new_kid
    client = app.test_client()
    assert client.get("/auth/me", headers=bearer(token)).status_code == 200
    assert old_kid in {key["kid"] for key in jwks(client)}
