"""proofs.check_proof keeps a proof header it found valid, by its exact text, so a DPoP
client's next proofs skip the header's parse and thumbprint; never the signature or
any claim check (RFC 9449 §4.3)."""

from __future__ import annotations

import time
import uuid
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from authapi.errors import InvalidDpopProof, TokenInvalid
from authapi.tokens import jws, proofs

URL = "http://localhost:8000/auth/check"
TARGET = proofs.Target("GET", URL)


def proof(key: Any, jwk_of: Any = None, **claims: Any) -> str:
    """A proof for TARGET signed by `key`, its header naming `jwk_of`'s public key."""
    jwk = ECAlgorithm.to_jwk((jwk_of or key).public_key(), as_dict=True)
    body = {"jti": str(uuid.uuid4()), "htm": "GET", "htu": URL, "iat": int(time.time()),
            **claims}
    return jwt.encode(body, key, algorithm="ES256", headers={"typ": "dpop+jwt", "jwk": jwk})


def check(value: str, cache: dict[str, Any]) -> proofs.Proof:
    return proofs.check_proof(value, TARGET, None, cache, time.time())


@pytest.fixture
def key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def test_the_second_proof_of_a_key_is_checked_through_its_cached_header(key):
    cache: dict[str, Any] = {}
    first = check(proof(key), cache)
    header = proofs.HEADER_PREFIX + proof(key).partition(".")[0]
    assert cache[header][2] == first.jkt  # the header text maps to (key, alg, jkt)
    second = check(proof(key), cache)
    assert second.jkt == first.jkt and second.jti != first.jti


def test_a_cached_header_does_not_vouch_for_another_keys_signature(key):
    cache: dict[str, Any] = {}
    check(proof(key), cache)
    forger = ec.generate_private_key(ec.SECP256R1())
    forged = proof(forger, jwk_of=key)  # the victim's header, the forger's signature
    assert forged.partition(".")[0] == proof(key).partition(".")[0]
    with pytest.raises(InvalidDpopProof):
        check(forged, cache)


def test_a_cached_header_does_not_vouch_for_a_changed_payload(key):
    cache: dict[str, Any] = {}
    head, _, signature = proof(key).split(".")
    check(proof(key), cache)
    other = proof(key).split(".")[1]  # valid claims, another jti: only the signature differs
    with pytest.raises(InvalidDpopProof):
        check(f"{head}.{other}.{signature}", cache)


def test_the_claims_are_still_checked_under_a_cached_header(key):
    cache: dict[str, Any] = {}
    check(proof(key), cache)
    with pytest.raises(InvalidDpopProof):
        check(proof(key, iat=int(time.time()) - 3600), cache)
    with pytest.raises(InvalidDpopProof):
        check(proof(key, htu="http://localhost:8000/elsewhere"), cache)


def test_a_header_is_kept_only_after_a_signature_it_names_checked_out(key):
    cache: dict[str, Any] = {}
    forger = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(InvalidDpopProof):
        check(proof(forger, jwk_of=key), cache)
    assert not any(name.startswith(proofs.HEADER_PREFIX) for name in cache)


def test_verify_known_checks_the_signature_it_is_given_the_key_of(key):
    token = proof(key)
    assert jws.verify_known(token, key.public_key(), "ES256")["htu"] == URL
    with pytest.raises(TokenInvalid):
        jws.verify_known(token, ec.generate_private_key(ec.SECP256R1()).public_key(), "ES256")
    with pytest.raises(TokenInvalid):
        jws.verify_known(token + ".x", key.public_key(), "ES256")
