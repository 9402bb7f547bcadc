"""DPoP and passkeys: `htu` never follows the bare Host header behind a proxy, malformed
proofs and tokens are a 401 and never a 5xx, and the WebAuthn sign-in checks the user
handle of a discoverable ceremony and the backup-eligibility flag.

The cases came from the review of 2026-12-05.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from conftest import PASSWORD, assert_problem, bearer
from fixtures.authenticator import SoftAuthenticator, add_passkey, b64url, login_options
from fixtures.dpop import DpopClient

BE, BS = 0x08, 0x10  # authenticator data flags: backup eligible, backed up (WebAuthn §6.1)
FLAGS = 32  # the flags byte follows the 32-byte rpIdHash (WebAuthn §6.1)


# --- DPoP htu behind a trusted proxy ------------------------------------------------------

def test_behind_a_proxy_without_forwarded_host_htu_is_not_the_host_header(make_app,
                                                                         make_user):
    """API.md: "DPoP `htu` is compared with authapi's public URL (the origin of
    `AUTHAPI_ISSUER`, or of `X-Forwarded-*` from a trusted proxy), never with the `Host`
    header alone"; a login proof naming only the client's Host is refused."""
    make_user(email="px@example.com")
    client = make_app(AUTHAPI_PROXY_COUNT=1).test_client()
    proof = DpopClient().proof("POST", "http://evil.example/auth/login")
    response = client.post("/auth/login", json={"email": "px@example.com", "password": PASSWORD},
                           headers={"Host": "evil.example", "DPoP": proof})
    assert_problem(response, 401, "invalid_dpop_proof")


def test_a_bound_token_behind_a_proxy_ignores_a_bare_host_header(make_app, make_user):
    """API.md: `htu` is "never [compared] with the `Host` header alone": a token bound
    through the proxy is refused with a proof for the Host a client sent without any
    X-Forwarded-* header."""
    make_user(email="px2@example.com")
    client = make_app(AUTHAPI_PROXY_COUNT=1).test_client()
    key = DpopClient()
    response = client.post("/auth/login", json={"email": "px2@example.com", "password": PASSWORD},
                           headers={"X-Forwarded-Proto": "https",
                                    "X-Forwarded-Host": "auth.example.com",
                                    "DPoP": key.proof("POST",
                                                      "https://auth.example.com/auth/login")})
    assert response.status_code == 200, response.get_json()
    token = response.get_json()["access_token"]
    response = client.get("/auth/me", headers={
        "Host": "evil.example", "Authorization": f"DPoP {token}",
        "DPoP": key.proof("GET", "http://evil.example/auth/me", token)})
    assert_problem(response, 401, "invalid_dpop_proof")


# --- malformed proofs and tokens: 401, never a 5xx ------------------------------------------

def b64json(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


def proof_header(**override: Any) -> str:
    """A DPoP proof's protected header, base64url, with `override` applied."""
    jwk = DpopClient().key.as_dict(private=False)
    return b64json({"typ": "dpop+jwt", "alg": "ES256", "jwk": jwk, **override})


def as_sent(text: str) -> str:
    """What werkzeug hands the app for these UTF-8 header bytes (it reads them as Latin-1)."""
    return text.encode("utf-8").decode("latin-1")


def dpop_login(client, proof: str):
    return client.post("/auth/login", json={"email": "m@example.com", "password": PASSWORD},
                       headers={"DPoP": as_sent(proof)})


def test_a_proof_with_a_non_ascii_payload_segment_is_401_not_500(client, make_user):
    """API.md: "No input, however malformed, produces a 5xx"; a bad proof is 401
    `invalid_dpop_proof`."""
    make_user(email="m@example.com")
    response = dpop_login(client, proof_header() + ".\u00ff\u00ff.AAAA")
    assert_problem(response, 401, "invalid_dpop_proof")


def test_a_proof_whose_alg_is_a_list_is_401_not_500(client, make_user):
    """API.md: "No input, however malformed, produces a 5xx"; an `alg` that is not a
    string is a bad proof, 401 `invalid_dpop_proof`."""
    make_user(email="m@example.com")
    response = dpop_login(client, proof_header(alg=["ES256"]) + ".e30.AAAA")
    assert_problem(response, 401, "invalid_dpop_proof")


def test_an_access_token_with_a_non_ascii_payload_segment_is_401_not_500(client, make_user,
                                                                          login):
    """API.md: "No input, however malformed, produces a 5xx"; a bad token is 401
    `token_invalid`."""
    token = login(make_user())["access_token"]
    head, _, signature = token.split(".")
    response = client.get("/auth/me", headers={
        "Authorization": as_sent(f"Bearer {head}.\u00ff.{signature}")})
    assert_problem(response, 401, "token_invalid")


# --- WebAuthn sign-in ---------------------------------------------------------------------

def enrolled(client, make_user, login) -> SoftAuthenticator:
    """A user with one device-bound passkey (registered with BE=0)."""
    authenticator = SoftAuthenticator()
    response = add_passkey(client, bearer(login(make_user())["access_token"]), authenticator)
    assert response.status_code == 201, response.get_json()
    return authenticator


def verify(client, options: dict[str, Any], credential: dict[str, Any]):
    return client.post("/auth/passkeys/login/verify",
                       json={"challenge_id": options["challenge_id"], "credential": credential})


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def with_flags(authenticator: SoftAuthenticator, credential: dict[str, Any],
               flags: int) -> dict[str, Any]:
    """The assertion with `flags` added to its authenticator data, signed again by the
    authenticator's key, as an authenticator reporting those flags would sign it."""
    response = credential["response"]
    auth_data = bytearray(unb64(response["authenticatorData"]))
    auth_data[FLAGS] |= flags
    signed = bytes(auth_data) + hashlib.sha256(unb64(response["clientDataJSON"])).digest()
    signature = authenticator.key.sign(signed, ec.ECDSA(hashes.SHA256()))
    return {**credential, "response": {**response, "authenticatorData": b64url(bytes(auth_data)),
                                       "signature": b64url(signature)}}


def test_a_discoverable_sign_in_without_a_user_handle_is_refused(client, make_user, login):
    """WebAuthn L3 §7.2 step 6: the user was not identified before the ceremony, so
    `response.userHandle` must be present."""
    authenticator = enrolled(client, make_user, login)
    options = login_options(client)  # no email: a discoverable ceremony
    credential = authenticator.get(options["publicKey"])
    credential["response"]["userHandle"] = None
    assert_problem(verify(client, options, credential), 401, "invalid_credentials")


def test_backup_eligibility_cannot_change_after_registration(client, make_user, login):
    """WebAuthn L3 §7.2 step 19 (and §6.1.3): the BE flag is fixed at registration; a
    device-bound credential asserting BE=1 is refused (else it would sign in as a synced
    passkey)."""
    authenticator = enrolled(client, make_user, login)
    options = login_options(client)
    unchanged = with_flags(authenticator, authenticator.get(options["publicKey"]), 0)
    assert verify(client, options, unchanged).status_code == 200  # the re-signing is sound
    options = login_options(client)
    backed_up = with_flags(authenticator, authenticator.get(options["publicKey"]), BE | BS)
    assert_problem(verify(client, options, backed_up), 401, "invalid_credentials")
