"""DPoP proofs (RFC 9449 §4.3): the checks that need no server state, pure.

No Flask, no database, no network. The server (`dpop`, which adds the nonce and the
shared replay cache) and resource services (`authapi.resource`, with their own replay
cache) call `check_proof`; the rules are written here once.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import re
from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import jwt
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

from authapi.errors import InvalidDpopProof, TokenInvalid
from authapi.tokens import jws
from authapi.tokens.core import number, same_text

PROOF_TYPE = "dpop+jwt"
PROOF_ALGORITHMS = ("ES256", "EdDSA", "RS256", "PS256")  # dpop_signing_alg_values_supported
KEY_TYPES = {"ES256": "EC", "EdDSA": "OKP", "RS256": "RSA", "PS256": "RSA"}
CURVES = {"ES256": ("P-256",), "EdDSA": ("Ed25519", "Ed448")}
CODECS: dict[str, Any] = {"EC": ECAlgorithm, "OKP": OKPAlgorithm, "RSA": RSAAlgorithm}
PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})  # RFC 7518 §6
THUMBPRINT_MEMBERS = {"RSA": ("e", "kty", "n"), "EC": ("crv", "kty", "x", "y"),
                      "OKP": ("crv", "kty", "x")}
PROOF_MAX_AGE = 60  # RFC 9449 §11.1: seconds a proof's iat may be from our clock, either way
MAX_PROOF_LENGTH = 8192
# Proof key caches hold keys by thumbprint, and (key, alg, jkt) by the proof's header
# segment under this prefix; ":" is not base64url, so the two kinds never collide.
HEADER_PREFIX = "header:"
MAX_JTI_LENGTH = 256
MIN_RSA_BITS = 2048
DEFAULT_PORTS = {"http": 80, "https": 443}
_PERCENT = re.compile(r"%[0-9A-Fa-f]{2}")
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def b64url(data: bytes) -> str:
    """Unpadded base64url (RFC 7515 §2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def thumbprint(jwk: dict[str, Any]) -> str:
    """The RFC 7638 SHA-256 thumbprint of a public JWK (KeyError/TypeError if incomplete)."""
    members = {name: jwk[name] for name in THUMBPRINT_MEMBERS[jwk["kty"]]}
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True).encode()
    return b64url(hashlib.sha256(canonical).digest())


def token_hash(access_token: str) -> str:
    """The `ath` of an access token: base64url SHA-256 of its ASCII (RFC 9449 §4.2)."""
    return b64url(hashlib.sha256(access_token.encode()).digest())


@dataclass(frozen=True)
class Target:
    """The request a proof must name: `htm` and the normalised `htu`."""

    method: str
    url: str | None


def _percent(match: re.Match[str]) -> str:
    char = chr(int(match.group(0)[1:], 16))
    return char if char in _UNRESERVED else match.group(0).upper()


@functools.lru_cache(maxsize=4096)
def normalize_url(url: str) -> str | None:
    """Scheme, host and path of a URL, RFC 3986 §6.2.2-6.2.3 normalised; None if unusable.

    RFC 9449 §4.3: htu is compared without its query and fragment. Normalised once per
    URL (a proof's `htu` and the request's own URL repeat on every DPoP request).
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme, host = parts.scheme.lower(), parts.hostname
    if scheme not in DEFAULT_PORTS or not host:
        return None
    host = f"[{host}]" if ":" in host else host
    if port is not None and port != DEFAULT_PORTS[scheme]:
        host = f"{host}:{port}"
    return f"{scheme}://{host}{_PERCENT.sub(_percent, parts.path) or '/'}"


@dataclass(frozen=True)
class Proof:
    """What a checked proof tells: its key's thumbprint, its jti, and when it was made."""

    jkt: str
    jti: str
    iat: float
    claims: dict[str, Any]

    def replay_key(self) -> str:
        """The proof's identity in a replay cache: its key and jti (RFC 9449 §11.1)."""
        # The jti is any JSON string, a lone surrogate included: hashed as it came.
        text = f"{self.jkt} {self.jti}".encode("utf-8", "surrogatepass")
        return hashlib.sha256(text).hexdigest()


def _proof_key(header: dict[str, Any], cache: MutableMapping[str, Any]) -> tuple[Any, str, str]:
    """(key, alg, jkt) from a proof header: explicit type, asymmetric alg, public JWK."""
    alg, jwk = header.get("alg"), header.get("jwk")
    if header.get("typ") != PROOF_TYPE:
        raise InvalidDpopProof("A DPoP proof must have typ dpop+jwt.")
    if not isinstance(alg, str) or alg not in KEY_TYPES:
        raise InvalidDpopProof(f"A DPoP proof must be signed with one of {PROOF_ALGORITHMS}.")
    if not isinstance(jwk, dict) or not PRIVATE_MEMBERS.isdisjoint(jwk):
        raise InvalidDpopProof("A DPoP proof must carry a public jwk and nothing private.")
    if jwk.get("kty") != KEY_TYPES[alg] or jwk.get("crv", None) not in CURVES.get(alg, (None,)):
        raise InvalidDpopProof("The proof's jwk does not fit its alg.")
    try:
        jkt = thumbprint(jwk)
    except (KeyError, TypeError):
        raise InvalidDpopProof("The proof's jwk is incomplete.") from None
    key = cache.get(jkt)
    if key is None:
        try:
            key = CODECS[jwk["kty"]].from_jwk(jwk)
        except (jwt.PyJWTError, ValueError, TypeError, KeyError):
            raise InvalidDpopProof("The proof's jwk is not a valid key.") from None
        if jwk["kty"] == "RSA" and key.key_size < MIN_RSA_BITS:
            raise InvalidDpopProof(f"RSA proof keys need at least {MIN_RSA_BITS} bits.")
        cache[jkt] = key
    return key, alg, jkt


def check_proof(proof: str, target: Target, access_token: str | None,
                key_cache: MutableMapping[str, Any], now: float) -> Proof:
    """RFC 9449 §4.3 steps that need no server state: header, signature, htm, htu, iat, ath.

    The nonce and the replay cache are the caller's (server state). `key_cache` keeps
    parsed proof keys by thumbprint, and what a header said (key, alg, thumbprint) by
    the header's exact text once a signature it names has checked out: a client's
    next proofs, which repeat that header, skip its parse, never the signature.
    """
    if len(proof) > MAX_PROOF_LENGTH:
        raise InvalidDpopProof()
    try:
        claims, (_, _, jkt) = _signed_claims(proof, key_cache)
    except TokenInvalid:
        raise InvalidDpopProof() from None
    jti = claims.get("jti")
    iat: Any = claims.get("iat")
    if not isinstance(jti, str) or not 0 < len(jti) <= MAX_JTI_LENGTH:
        raise InvalidDpopProof("The proof needs a jti.")
    htu = claims.get("htu")
    if (claims.get("htm") != target.method or not isinstance(htu, str) or target.url is None
            or normalize_url(htu) != target.url):
        raise InvalidDpopProof("The proof was made for another method or URL.")
    if not number(iat) or abs(now - iat) > PROOF_MAX_AGE:
        raise InvalidDpopProof(f"The proof's iat must be within {PROOF_MAX_AGE} s of now.")
    ath = claims.get("ath")
    if access_token is not None and not (
            isinstance(ath, str) and same_text(ath, token_hash(access_token))):
        raise InvalidDpopProof("The proof's ath is not the hash of this access token.")
    return Proof(jkt=jkt, jti=jti, iat=float(iat), claims=claims)


def _signed_claims(proof: str, key_cache: MutableMapping[str, Any]
                   ) -> tuple[dict[str, Any], tuple[Any, str, str]]:
    """The proof's claims once its signature checks out, and what its header names (key,
    alg, thumbprint). A header is parsed the first time its exact text comes with a
    valid signature, and kept in `key_cache` by that text; later proofs repeating it are
    checked with the kept key, never without their signature."""
    header_key = HEADER_PREFIX + proof.partition(".")[0]
    known: tuple[Any, str, str] | None = key_cache.get(header_key)
    if known is not None:
        return jws.verify_known(proof, known[0], known[1]), known
    named: list[tuple[Any, str, str]] = []

    def key_for(header: dict[str, Any]) -> tuple[Any, str]:
        named.append(_proof_key(header, key_cache))
        return named[0][:2]

    claims = jws.verify(proof, key_for)
    key_cache[header_key] = named[0]  # only now: its signature has checked out
    return claims, named[0]


def check_proven(jkt: str, bound: str) -> None:
    """The proof's key (`jkt`) must be the one the token is bound to (RFC 9449 §7.1)."""
    if not hmac.compare_digest(jkt, bound):
        raise InvalidDpopProof("The proof is signed by another key than the token is bound to.")
