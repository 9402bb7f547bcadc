"""What makes a token valid: the one set of rules (RFC 7519, 8725, 9068, 9449), pure.

No Flask, no database, no network: the caller brings its keys (a `(kid, alg) -> key`
look-up), its clock (`now`) and, for DPoP, its cache of parsed proof keys. The server
(`tokens.decode`, `dpop`, the Flask-JWT-Extended loaders) and resource services
(`authapi.resource.Verifier`) call these functions; the rules are written here once.

A check raises the contract's 401 error (`TokenInvalid`, `TokenExpired`,
`DpopTokenInvalid`, `InvalidDpopProof`); it never answers False.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import jwt
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

from . import jws
from .errors import (
    DpopTokenInvalid,
    InsufficientRole,
    InsufficientScope,
    InvalidDpopProof,
    TokenExpired,
    TokenInvalid,
)

ACCESS, REFRESH = "access", "refresh"
REQUIRED = {
    ACCESS: ("iss", "sub", "aud", "iat", "nbf", "exp", "jti", "type"),
    REFRESH: ("iss", "sub", "iat", "exp", "jti", "type", "sid"),
}
# RFC 9068 §2.1 and RFC 8725 §3.11: explicit typing keeps one kind from passing as another.
TYPES = {ACCESS: "at+jwt", REFRESH: "JWT"}
# Clock skew allowed between the issuer and a verifier, on `nbf` and `iat` alike. `exp`
# gets none: a leeway there would let a token outlive what its issuer said, and a
# verifier that cannot see revocations relies on `exp` alone.
LEEWAY = 60
MAX_TOKEN_LENGTH = 8192
MAX_KID_LENGTH = 64

KeyLookup = Callable[[str, str], Any]  # (kid, alg) -> key object, or None when unknown


@dataclass(frozen=True)
class Rules:
    """What one verifier accepts: its issuer, its audience and the signing algorithms.

    `audience` None means any audience (RFC 7662 introspection reports on tokens this
    server issued for others; their holders check `aud`).
    """

    issuer: str
    audience: str | None
    algorithms: tuple[str, ...]


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def check_header(header: dict[str, Any], token_type: str, rules: Rules) -> tuple[str, str]:
    """(kid, alg) of a JOSE header fit for `token_type`: its `typ`, an allowed `alg`, a kid.

    RFC 8725 §3.1: the algorithm comes from our list, never from the token alone.
    """
    algorithm, kid = header.get("alg"), header.get("kid")
    if header.get("typ") != TYPES.get(token_type) or algorithm not in rules.algorithms:
        raise TokenInvalid()
    if not isinstance(kid, str) or not 0 < len(kid) <= MAX_KID_LENGTH or not kid.isprintable():
        raise TokenInvalid()
    return kid, algorithm


def check_static(claims: dict[str, Any], token_type: str, rules: Rules) -> None:
    """Everything about a verified payload that does not change with time."""
    if any(name not in claims for name in REQUIRED[token_type]):
        raise TokenInvalid()
    if claims["type"] != token_type or claims["iss"] != rules.issuer:
        raise TokenInvalid()
    if not isinstance(claims["sub"], str) or not isinstance(claims["jti"], str):
        raise TokenInvalid()
    if not all(_number(claims[name]) for name in ("exp", "iat", "nbf") if name in claims):
        raise TokenInvalid()
    if "sid" in claims and not isinstance(claims["sid"], str):
        raise TokenInvalid()
    if token_type == ACCESS:
        audience = claims["aud"]
        if not (isinstance(audience, str) or (
                isinstance(audience, list) and all(isinstance(a, str) for a in audience))):
            raise TokenInvalid()
        if not (isinstance(claims.get("roles", []), list)
                and isinstance(claims.get("scope", ""), str)):
            raise TokenInvalid()
        cnf = claims.get("cnf")
        if cnf is not None and not (isinstance(cnf, dict) and isinstance(cnf.get("jkt"), str)):
            raise TokenInvalid()  # RFC 9449 §6.1: a confirmation we cannot honour


def check_audience(claims: dict[str, Any], rules: Rules) -> None:
    """An access token must name this verifier's audience (RFC 7519 §4.1.3)."""
    if rules.audience is None:
        return
    audience = claims.get("aud")
    if audience != rules.audience and not (
            isinstance(audience, list) and rules.audience in audience):
        raise TokenInvalid()


def check_times(claims: dict[str, Any], now: float) -> None:
    """`exp` strictly; `nbf` and `iat` with LEEWAY (RFC 7519 §4.1.4-4.1.6)."""
    exp: Any = claims.get("exp")
    if not _number(exp):
        raise TokenInvalid()
    if exp <= now:
        raise TokenExpired()
    nbf, iat = claims.get("nbf", 0), claims.get("iat", 0)
    if not (_number(nbf) and _number(iat)) or nbf > now + LEEWAY or iat > now + LEEWAY:
        raise TokenInvalid()


def verify_signed(token: str, token_type: str, rules: Rules, lookup: KeyLookup
                  ) -> dict[str, Any]:
    """The payload of a token of `token_type` whose header, signature and static claims hold.

    What changes with time or with the request (audience, times, revocation, DPoP) is
    checked by the caller with `check_live`, so that this part can be cached.
    """
    if len(token) > MAX_TOKEN_LENGTH:
        raise TokenInvalid()

    def key_for(header: dict[str, Any]) -> tuple[Any, str]:
        kid, algorithm = check_header(header, token_type, rules)
        key = lookup(kid, algorithm)
        if key is None:
            raise TokenInvalid()
        return key, algorithm

    claims = jws.verify(token, key_for)
    check_static(claims, token_type, rules)
    return claims


def check_live(claims: dict[str, Any], token_type: str, rules: Rules, now: float) -> None:
    """The checks of a (possibly cached) verified payload that must run on every use."""
    if token_type == ACCESS:
        check_audience(claims, rules)
    check_times(claims, now)


def bound_key(claims: dict[str, Any]) -> str | None:
    """The thumbprint a token is bound to (`cnf.jkt`, RFC 9449 §6.1), or None."""
    cnf = claims.get("cnf")
    jkt = cnf.get("jkt") if isinstance(cnf, dict) else None
    return jkt if isinstance(jkt, str) else None


def check_scheme(claims: dict[str, Any], by_dpop: bool) -> str | None:
    """The key a DPoP proof must prove for this token, or None for a bearer use.

    RFC 9449 §7.1: a bound token is no bearer token, and an unbound one has no business
    on the DPoP scheme.
    """
    jkt = bound_key(claims)
    if jkt is None and by_dpop:
        raise DpopTokenInvalid("Only a DPoP-bound token may be sent with the DPoP scheme.")
    if jkt is not None and not by_dpop:
        raise DpopTokenInvalid("This token is bound to a key: send it as DPoP with a proof.")
    return jkt


def granted_scopes(claims: dict[str, Any]) -> set[str]:
    """The token's scope as a set (RFC 9068 §2.2.3: space-separated)."""
    return set(str(claims.get("scope", "")).split())


def check_roles(claims: dict[str, Any], required: tuple[str, ...] = (),
                accepted: tuple[str, ...] = ()) -> None:
    """Raise InsufficientRole unless the token has every `required` and any `accepted` role."""
    held = set(claims.get("roles", ()))
    if not held.issuperset(required) or (accepted and held.isdisjoint(accepted)):
        raise InsufficientRole()


def check_scopes(claims: dict[str, Any], required: tuple[str, ...]) -> None:
    """Raise InsufficientScope unless the token grants every scope in `required`."""
    if not granted_scopes(claims).issuperset(required):
        raise InsufficientScope()


# --- DPoP proofs (RFC 9449 §4.3) ---------------------------------------------------------

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


def normalize_url(url: str) -> str | None:
    """Scheme, host and path of a URL, RFC 3986 §6.2.2-6.2.3 normalised; None if unusable.

    RFC 9449 §4.3: htu is compared without its query and fragment.
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
        return hashlib.sha256(f"{self.jkt} {self.jti}".encode()).hexdigest()


def _proof_key(header: dict[str, Any], cache: MutableMapping[str, Any]) -> tuple[Any, str, str]:
    """(key, alg, jkt) from a proof header: explicit type, asymmetric alg, public JWK."""
    alg, jwk = header.get("alg"), header.get("jwk")
    if header.get("typ") != PROOF_TYPE:
        raise InvalidDpopProof("A DPoP proof must have typ dpop+jwt.")
    if alg not in KEY_TYPES:
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

    The nonce and the replay cache are the caller's (server state); parsed proof keys
    are kept in `key_cache` by thumbprint.
    """
    if len(proof) > MAX_PROOF_LENGTH:
        raise InvalidDpopProof()
    found: list[str] = []

    def key_for(header: dict[str, Any]) -> tuple[Any, str]:
        key, alg, jkt = _proof_key(header, key_cache)
        found.append(jkt)
        return key, alg

    try:
        claims = jws.verify(proof, key_for)
    except TokenInvalid:
        raise InvalidDpopProof() from None
    jkt, jti = found[0], claims.get("jti")
    iat: Any = claims.get("iat")
    if not isinstance(jti, str) or not 0 < len(jti) <= MAX_JTI_LENGTH:
        raise InvalidDpopProof("The proof needs a jti.")
    htu = claims.get("htu")
    if (claims.get("htm") != target.method or not isinstance(htu, str) or target.url is None
            or normalize_url(htu) != target.url):
        raise InvalidDpopProof("The proof was made for another method or URL.")
    if not _number(iat) or abs(now - iat) > PROOF_MAX_AGE:
        raise InvalidDpopProof(f"The proof's iat must be within {PROOF_MAX_AGE} s of now.")
    ath = claims.get("ath")
    if access_token is not None and not (
            isinstance(ath, str) and hmac.compare_digest(ath, token_hash(access_token))):
        raise InvalidDpopProof("The proof's ath is not the hash of this access token.")
    return Proof(jkt=jkt, jti=jti, iat=float(iat), claims=claims)


def check_proven(proof: Proof, bound: str) -> None:
    """The proof must be signed by the key the token is bound to (RFC 9449 §7.1)."""
    if not hmac.compare_digest(proof.jkt, bound):
        raise InvalidDpopProof("The proof is signed by another key than the token is bound to.")
