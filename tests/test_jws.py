"""tokens/jws.sign writes what PyJWT's jwt.encode writes, for every algorithm authapi signs
with, and PyJWT verifies what it writes."""

from __future__ import annotations

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from authapi.errors import TokenInvalid
from authapi.tokens import jws

KEYS = {
    "RS256": lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048),
    "ES256": lambda: ec.generate_private_key(ec.SECP256R1()),
    "EdDSA": ed25519.Ed25519PrivateKey.generate,
    "HS256": lambda: b"s" * 48,
}
CLAIMS = {"iss": "http://localhost:8000", "sub": "u", "aud": "authapi", "iat": 1, "nbf": 1,
          "exp": 2, "jti": "j", "type": "access", "roles": ["admin", "é"], "scope": "a b",
          "cnf": {"jkt": "x"}, "amr": ["pwd"], "auth_time": 1}


@pytest.mark.parametrize("algorithm", KEYS)
def test_sign_matches_pyjwt_and_pyjwt_verifies_it(algorithm):
    key = KEYS[algorithm]()
    header = {"kid": "k1", "typ": "at+jwt"}
    token = jws.sign(CLAIMS, key, algorithm, header)
    public = key if algorithm == "HS256" else key.public_key()
    decoded = jwt.decode(token, public, algorithms=[algorithm], audience="authapi",
                         options={"verify_exp": False, "verify_iat": False, "verify_nbf": False})
    assert decoded == CLAIMS
    assert jwt.get_unverified_header(token) == {"alg": algorithm, **header}
    if algorithm in ("HS256", "RS256", "EdDSA"):  # deterministic signatures: same bytes
        assert token == jwt.encode(CLAIMS, key, algorithm=algorithm, headers=header)
    else:  # ECDSA signs with a fresh nonce: the signing input is what must match
        assert token.rsplit(".", 1)[0] == jwt.encode(
            CLAIMS, key, algorithm=algorithm, headers=header).rsplit(".", 1)[0]


def test_what_sign_writes_verify_reads():
    key = KEYS["ES256"]()
    token = jws.sign(CLAIMS, key, "ES256", {"kid": "k1", "typ": "JWT"})
    assert jws.verify(token, lambda header: (key.public_key(), header["alg"])) == CLAIMS


@pytest.mark.parametrize("segment", [
    "eyJhIjoxfQ==",  # padded
    "ab+c",  # the standard alphabet's 62nd character
    "ab/c",  # and its 63rd
    "abcde",  # a length no encoder writes (4n+1)
    "abcé",  # not ASCII
    "QR",  # a flipped unused bit: "QQ" spells the same byte canonically
])
def test_b64decode_takes_one_spelling_of_each_value_only(segment):
    with pytest.raises(TokenInvalid):
        jws.b64decode(segment)


def test_b64decode_reads_canonical_base64url():
    assert jws.b64decode("eyJhIjoxfQ") == b'{"a":1}'
    assert jws.b64decode("-_8") == b"\xfb\xff"
    assert jws.b64decode("QQ") == b"A"
