"""Edges of DPoP, passkeys and OpenID Connect login: a proof whose `iat` is NaN, an
infinity or an integer no float holds is a 401 (and the resource verifier refuses it),
two DPoP headers are refused, server nonces reach resource use and refresh; a passkey
ceremony run in a cross-origin frame of another site is refused, a credential id over
1023 bytes is never registered, a passkey sign-in obeys AUTHAPI_REQUIRE_VERIFIED_EMAIL;
a provider address that only case-folds (`ß` as `ss`) to an account's is not linked.

The cases came from the review of 2026-12-05 (second session).
"""

from __future__ import annotations

import base64
import json
import os
import time
import uuid
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from sqlalchemy import select

from authapi import db
from authapi.errors import InvalidDpopProof
from authapi.models import OidcIdentity
from authapi.tokens import proofs
from conftest import PASSWORD, assert_problem, bearer
from fixtures.authenticator import SoftAuthenticator, add_passkey, login_options
from fixtures.dpop import BASE, DpopClient
from fixtures.oidc_provider import CLIENT_ID, CLIENT_SECRET
from test_oidc import (  # noqa: F401  (provider and provider_server are fixtures)
    FRONTEND,
    provider,
    provider_server,
    refused,
    sign_in,
)

EMAIL = "edges-dpop@example.com"
# `iat` values JSON can carry that no comparison or datetime survives: NaN and the
# infinities (Python's json reads them, as it reads 1e400 as inf), and an integer of 401
# digits (now - iat raises OverflowError).
ODD_IATS = ["NaN", "Infinity", "-Infinity", "1e400", "1" + "0" * 400]
ODD_IAT_IDS = ["nan", "infinity", "minus-infinity", "1e400", "10**400"]


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class RawKey:
    """An ES256 proof key whose payload is written as raw JSON text (NaN and all)."""

    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        numbers = self.key.public_key().public_numbers()
        self.jwk = {"kty": "EC", "crv": "P-256", "x": b64(numbers.x.to_bytes(32, "big")),
                    "y": b64(numbers.y.to_bytes(32, "big"))}

    def proof(self, payload_text: str) -> str:
        header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": self.jwk}
        signing_input = b64(json.dumps(header).encode()) + "." + b64(payload_text.encode())
        r, s = decode_dss_signature(self.key.sign(signing_input.encode(),
                                                  ec.ECDSA(hashes.SHA256())))
        return signing_input + "." + b64(r.to_bytes(32, "big") + s.to_bytes(32, "big"))


def proof_payload(method: str, url: str, iat: str) -> str:
    """A proof's payload as JSON text, with `iat` written as given."""
    head = json.dumps({"jti": str(uuid.uuid4()), "htm": method, "htu": url})
    return f'{head[:-1]}, "iat": {iat}}}'


# --- DPoP proofs --------------------------------------------------------------------------

@pytest.mark.parametrize("iat", ODD_IATS, ids=ODD_IAT_IDS)
def test_a_login_proof_whose_iat_is_no_usable_number_is_401_not_500(client, make_user, iat):
    """API.md Conventions: "No input, however malformed, produces a 5xx"; DPoP: a proof is
    checked for "`iat` within 60 s". json.loads reads NaN, and abs(now - NaN) > 60 is
    False, so the iat check passed and the replay cache crashed on
    datetime.fromtimestamp(NaN); now - 10**400 raised OverflowError."""
    make_user(email=EMAIL)
    proof = RawKey().proof(proof_payload("POST", f"{BASE}/auth/login", iat))
    response = client.post("/auth/login", json={"email": EMAIL, "password": PASSWORD},
                           headers={"DPoP": proof})
    assert response.status_code == 401, (response.status_code,
                                         response.get_data(as_text=True)[:300])
    assert_problem(response, 401, "invalid_dpop_proof")


@pytest.mark.parametrize("iat", ODD_IATS, ids=ODD_IAT_IDS)
def test_the_resource_verifier_refuses_a_proof_whose_iat_is_no_usable_number(iat):
    """API.md, DPoP: "the resource verifier checks proofs" for "`iat` within 60 s". The
    shared pure check (proofs.check_proof, used by authapi.resource.Verifier) accepted
    iat = NaN, so such a proof never went stale (its replay entry expires after 121 s,
    the proof does not)."""
    url = "https://api.example/orders"
    target = proofs.Target("GET", proofs.normalize_url(url))
    with pytest.raises(InvalidDpopProof):
        proofs.check_proof(RawKey().proof(proof_payload("GET", url, iat)), target, None, {},
                           time.time())


def test_two_dpop_headers_are_refused(client, make_user):
    """API.md, DPoP: a proof is checked as RFC 9449 says, and RFC 9449 §4.3 step 1 asks
    that "there is not more than one DPoP HTTP request header field"; a second header
    must not be silently ignored."""
    make_user(email=EMAIL)
    key = DpopClient()
    headers = [("DPoP", key.proof("POST", "/auth/login")),
               ("DPoP", key.proof("POST", "/auth/login"))]
    response = client.post("/auth/login", json={"email": EMAIL, "password": PASSWORD},
                           headers=headers)
    assert response.status_code in (400, 401), response.get_json()


def test_the_server_nonce_is_asked_for_on_resource_use_and_on_refresh(make_app, make_user):
    """API.md, DPoP: "With `AUTHAPI_DPOP_NONCE=1`, proofs must carry the server's nonce: a
    missing or stale one answers 401 `use_dpop_nonce` (400 with `error: use_dpop_nonce`
    on `/oauth/token`) and a `DPoP-Nonce` header" -- for every proof, not only the
    login's: a bound token's use at /auth/me, /auth/refresh and the refresh grant."""
    make_user(email=EMAIL)
    client = make_app(AUTHAPI_DPOP_NONCE=1).test_client()
    key = DpopClient()
    credentials = {"email": EMAIL, "password": PASSWORD}
    first = client.post("/auth/login", json=credentials,
                        headers={"DPoP": key.proof("POST", "/auth/login")})
    assert first.status_code == 401
    nonce = first.headers["DPoP-Nonce"]
    login = client.post("/auth/login", json=credentials,
                        headers={"DPoP": key.proof("POST", "/auth/login", nonce=nonce)})
    assert login.status_code == 200, login.get_json()
    token, refresh_token = login.get_json()["access_token"], login.get_json()["refresh_token"]
    me = client.get("/auth/me", headers=key.headers("GET", "/auth/me", token))
    assert_problem(me, 401, "use_dpop_nonce")
    assert me.headers["WWW-Authenticate"].startswith('DPoP error="use_dpop_nonce"')
    assert me.headers["DPoP-Nonce"]
    ok = client.get("/auth/me", headers=key.headers("GET", "/auth/me", token, nonce=nonce))
    assert ok.status_code == 200, ok.get_json()
    refreshed = client.post("/auth/refresh", json={"refresh_token": refresh_token},
                            headers={"DPoP": key.proof("POST", "/auth/refresh")})
    assert_problem(refreshed, 401, "use_dpop_nonce")
    granted = client.post("/oauth/token", data={"grant_type": "refresh_token",
                                                "refresh_token": refresh_token},
                          headers={"DPoP": key.proof("POST", "/oauth/token")})
    assert granted.status_code == 400, granted.get_json()
    assert granted.get_json()["error"] == "use_dpop_nonce", granted.get_json()
    assert granted.headers["DPoP-Nonce"]
    refreshed = client.post("/auth/refresh", json={"refresh_token": refresh_token},
                            headers={"DPoP": key.proof("POST", "/auth/refresh", nonce=nonce)})
    assert refreshed.status_code == 200, refreshed.get_json()
    assert refreshed.get_json()["token_type"] == "DPoP"


# --- passkeys -----------------------------------------------------------------------------

class IframedAuthenticator(SoftAuthenticator):
    """A browser that ran the ceremony inside a cross-origin iframe on another site."""

    TOP = "https://evil.example"

    @staticmethod
    def _client_data(kind: str, options: dict[str, Any], origin: str) -> bytes:
        return json.dumps({"type": kind, "challenge": options["challenge"], "origin": origin,
                           "crossOrigin": True,
                           "topOrigin": IframedAuthenticator.TOP}).encode()


def enrolled(client, user_id: str, login) -> SoftAuthenticator:
    """A passkey added to `user_id`'s account; its authenticator."""
    authenticator = SoftAuthenticator()
    response = add_passkey(client, bearer(login(user_id)["access_token"]), authenticator)
    assert response.status_code == 201, response.get_json()
    return authenticator


def test_a_sign_in_run_in_a_cross_origin_iframe_of_another_site_is_refused(client, make_user,
                                                                          login):
    """API.md, Passkeys: "a wrong origin or RP id ... answers 401 `invalid_credentials`";
    `AUTHAPI_WEBAUTHN_ORIGINS` names the relying party. WebAuthn L3 §7.2 step 13: "If
    C.topOrigin is present: verify that the Relying Party expects this credential to be
    used within an iframe that is not same-origin with its ancestors"; authapi lists no
    such page, so an assertion made in a frame on https://evil.example is refused."""
    plain = enrolled(client, make_user(), login)
    framed = IframedAuthenticator()
    framed.key, framed.credential_id = plain.key, plain.credential_id
    framed.user_handle, framed.counter = plain.user_handle, plain.counter
    options = login_options(client)
    response = client.post("/auth/passkeys/login/verify",
                           json={"challenge_id": options["challenge_id"],
                                 "credential": framed.get(options["publicKey"])})
    assert_problem(response, 401, "invalid_credentials")


def test_a_registration_in_a_cross_origin_iframe_of_another_site_is_refused(client,
                                                                           auth_headers):
    """API.md, Passkeys: "a wrong origin or RP id ... answers 401 `invalid_credentials`";
    WebAuthn L3 §7.1 step 10 holds a registration to the same topOrigin rule as a sign-in."""
    headers = auth_headers()
    response = add_passkey(client, headers, IframedAuthenticator())
    assert_problem(response, 401, "invalid_credentials")
    assert client.get("/auth/passkeys", headers=headers).get_json()["items"] == []


def test_a_credential_id_over_1023_bytes_is_refused(client, auth_headers):
    """API.md, Passkeys: WebAuthn Level 3. WebAuthn L3 §7.1: "Verify that the credentialId
    is <= 1023 bytes. Credential IDs larger than this many bytes SHOULD cause the RP to
    fail this registration ceremony." 1040 bytes (1387 base64url characters) still fit
    the String(1400) column, so nothing else stopped them."""
    headers = auth_headers()
    authenticator = SoftAuthenticator()
    authenticator.credential_id = os.urandom(1040)
    response = add_passkey(client, headers, authenticator)
    assert response.status_code in (401, 422), (response.status_code, response.get_json())
    assert client.get("/auth/passkeys", headers=headers).get_json()["items"] == []


def test_a_credential_id_of_1023_bytes_is_registered(client, auth_headers):
    """API.md, Passkeys: WebAuthn Level 3; §7.1 allows a credentialId of up to 1023 bytes,
    so the longest one allowed is still registered (201)."""
    authenticator = SoftAuthenticator()
    authenticator.credential_id = os.urandom(1023)
    response = add_passkey(client, auth_headers(), authenticator)
    assert response.status_code == 201, (response.status_code, response.get_json())


def test_a_passkey_sign_in_obeys_require_verified_email(make_app, make_user, login, client):
    """docs/configuration.md: AUTHAPI_REQUIRE_VERIFIED_EMAIL "refuse login (403
    `email_unverified`) until the address is verified"; API.md: passkey login/verify
    answers "the same body (and cookies) as `/auth/login`". A password login of the
    account was refused, its passkey sign-in was not."""
    user_id = make_user(email="unverified-pk@example.com", email_verified=False)
    authenticator = enrolled(client, user_id, login)
    strict = make_app(AUTHAPI_REQUIRE_VERIFIED_EMAIL=True).test_client()
    password = strict.post("/auth/login", json={"email": "unverified-pk@example.com",
                                                "password": PASSWORD})
    assert_problem(password, 403, "email_unverified")
    options = login_options(strict)
    response = strict.post("/auth/passkeys/login/verify", json={
        "challenge_id": options["challenge_id"],
        "credential": authenticator.get(options["publicKey"])})
    assert_problem(response, 403, "email_unverified")


# --- OpenID Connect login -----------------------------------------------------------------

@pytest.fixture
def oidc_app(make_app, provider):  # noqa: F811
    """The app of tests/test_oidc.py: the provider on loopback as `acme`."""
    return make_app(AUTHAPI_ISSUER="http://localhost", AUTHAPI_FRONTEND_URL=FRONTEND,
                    AUTHAPI_OIDC_ACME_ISSUER=provider.issuer, AUTHAPI_OIDC_ACME_CLIENT_ID=CLIENT_ID,
                    AUTHAPI_OIDC_ACME_CLIENT_SECRET=CLIENT_SECRET)


def linked_users(app) -> list[str]:
    """The accounts that provider identities are linked to."""
    with app.app_context():
        return list(db.orm().scalars(select(OidcIdentity.user_id)))


def test_a_provider_email_that_only_case_folds_to_the_victims_is_not_linked(
        oidc_app, make_user, provider):  # noqa: F811
    """API.md: "A provider identity is linked to an existing account only when that
    account's own email is verified; otherwise the callback signs nobody in, redirects
    with `error=account_exists`" -- linked by *verified email*. The provider verified the
    attacker's mailbox at straße.de (IDNA2008: another domain than strasse.de); NFKC and
    case folding turned it into the victim's ceo@strasse.de, and the attacker's
    identity was linked to the victim's account (an account takeover)."""
    victim = make_user(email="ceo@strasse.de", email_verified=True)
    provider.user.update(sub="mallory-1", email="ceo@straße.de", email_verified=True)
    response = sign_in(oidc_app.test_client())
    assert victim not in linked_users(oidc_app), "the attacker's identity signs in as the victim"
    refused(response, "account_exists")


def test_a_provider_email_in_another_letter_case_or_width_is_still_linked(
        oidc_app, make_user, provider):  # noqa: F811
    """API.md: "Emails are compared after Unicode NFKC normalisation and case folding, so
    look-alike forms (`ＡＤＡ@example.com`, `Ada@Example.com`) name one account", and a
    provider identity is linked "by verified email": refusing `ß` must not refuse these."""
    owner = make_user(email="dana@example.com", email_verified=True)
    provider.user.update(sub="dana-1", email="ＤＡＮＡ@Example.com", email_verified=True)
    response = sign_in(oidc_app.test_client())
    assert response.status_code == 302, response.get_json()
    assert response.headers["Location"] == FRONTEND
    assert linked_users(oidc_app) == [owner]
