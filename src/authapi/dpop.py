"""DPoP (RFC 9449): check proofs, bind tokens to the client's key, server nonces.

The one place a DPoP proof is verified. Wiring for an endpoint that issues tokens:

    jkt = dpop.proof_key_thumbprint()           # None without a DPoP header; 401 if bad
    token = tokens.issue_access(..., cnf=dpop.confirmation(jkt))
    answer["token_type"] = dpop.token_type(jkt)

and for one that accepts them: `dpop.check_use(token)` (authz.authenticate does it
for every guard). A check costs one signature verification and one replay-cache
write; parsed client keys are cached by thumbprint.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlsplit

import jwt
from cachetools import LRUCache
from flask import Response, after_this_request, current_app, request
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

from . import jws, keys, replay, tokens
from .errors import (
    DPOP_INVALID_TOKEN,
    ApiError,
    DpopTokenInvalid,
    InvalidDpopProof,
    TokenInvalid,
    UseDpopNonce,
)

SIGNING_ALGORITHMS = ("ES256", "EdDSA", "RS256", "PS256")  # dpop_signing_alg_values_supported
KEY_TYPES = {"ES256": "EC", "EdDSA": "OKP", "RS256": "RSA", "PS256": "RSA"}
CURVES = {"ES256": ("P-256",), "EdDSA": ("Ed25519", "Ed448")}
CODECS: dict[str, Any] = {"EC": ECAlgorithm, "OKP": OKPAlgorithm, "RSA": RSAAlgorithm}
PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})  # RFC 7518 §6
PROOF_TYPE = "dpop+jwt"
HEADER = "DPoP"
NONCE_HEADER = "DPoP-Nonce"
SCHEME = "dpop"
MAX_AGE = 60  # RFC 9449 §11.1: seconds a proof's iat may be from our clock, either way
MAX_PROOF_LENGTH = 8192
MAX_JTI_LENGTH = 256
MIN_RSA_BITS = 2048
KEY_CACHE = "authapi.dpop_keys"
KEY_CACHE_SIZE = 10_000
DEFAULT_PORTS = {"http": 80, "https": 443}
_PERCENT = re.compile(r"%[0-9A-Fa-f]{2}")
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


@dataclass(frozen=True)
class Target:
    """The request a proof must name: `htm` and the normalised `htu`."""

    method: str
    url: str | None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


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


def this_request() -> Target:
    """The current request as a proof must name it."""
    return Target(request.method, normalize_url(request.base_url))


def forwarded_request() -> Target:
    """The original request a trusted proxy names (forward-auth); else the current one.

    Only with AUTHAPI_PROXY_COUNT > 0, where ProxyFix has already taken the scheme and
    host from X-Forwarded-Proto and X-Forwarded-Host.
    """
    method = request.headers.get("X-Forwarded-Method")
    uri = request.headers.get("X-Forwarded-Uri")
    if int(current_app.config["AUTHAPI_PROXY_COUNT"]) <= 0 or not method or not uri:
        return this_request()
    if not uri.startswith("/"):
        return Target(method.upper(), None)
    return Target(method.upper(), normalize_url(f"{request.scheme}://{request.host}{uri}"))


def token_hash(access_token: str) -> str:
    """The `ath` of an access token: base64url SHA-256 of its ASCII (RFC 9449 §4.2)."""
    return _b64(hashlib.sha256(access_token.encode()).digest())


def confirmation(jkt: str | None) -> dict[str, str] | None:
    """The `cnf` claim binding a token to a key (RFC 9449 §6.1), or None when unbound."""
    return {"jkt": jkt} if jkt else None


def token_type(jkt: str | None) -> str:
    """`DPoP` for a bound token, else `Bearer` (RFC 9449 §5)."""
    return "DPoP" if jkt else "Bearer"


def nonce(at: float | None = None) -> str:
    """The server nonce of a time bucket: stateless, an HMAC under AUTHAPI_SECRET_KEY."""
    config = current_app.config
    bucket = int((time.time() if at is None else at) // int(config["AUTHAPI_DPOP_NONCE_PERIOD"]))
    mac = hmac.new(config["AUTHAPI_SECRET_KEY"].encode(), f"authapi dpop nonce {bucket}".encode(),
                   hashlib.sha256)
    return _b64(mac.digest()[:18])


def _nonce_valid(value: Any) -> bool:
    """A nonce of the current or of the previous bucket."""
    if not isinstance(value, str):
        return False
    now, period = time.time(), int(current_app.config["AUTHAPI_DPOP_NONCE_PERIOD"])
    return any(hmac.compare_digest(value, nonce(now - back * period)) for back in (0, 1))


def _send_nonce(response: Response) -> Response:
    response.headers[NONCE_HEADER] = nonce()
    return response


def _key_cache() -> LRUCache[str, Any]:
    cache = current_app.extensions.get(KEY_CACHE)
    if cache is None:  # once per app (setdefault would build a new LRUCache every call)
        cache = current_app.extensions[KEY_CACHE] = LRUCache(maxsize=KEY_CACHE_SIZE)
    return cast("LRUCache[str, Any]", cache)


def _public_key(header: dict[str, Any], cache: LRUCache[str, Any]) -> tuple[Any, str, str]:
    """(key, alg, jkt) from a proof header: explicit type, asymmetric alg, public JWK."""
    alg, jwk = header.get("alg"), header.get("jwk")
    if header.get("typ") != PROOF_TYPE:
        raise InvalidDpopProof("A DPoP proof must have typ dpop+jwt.")
    if alg not in KEY_TYPES:
        raise InvalidDpopProof(f"A DPoP proof must be signed with one of {SIGNING_ALGORITHMS}.")
    if not isinstance(jwk, dict) or not PRIVATE_MEMBERS.isdisjoint(jwk):
        raise InvalidDpopProof("A DPoP proof must carry a public jwk and nothing private.")
    if jwk.get("kty") != KEY_TYPES[alg] or jwk.get("crv", None) not in CURVES.get(alg, (None,)):
        raise InvalidDpopProof("The proof's jwk does not fit its alg.")
    try:
        jkt = keys.thumbprint(jwk)
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


def check_proof(proof: str, target: Target, access_token: str | None,
                keys_cache: LRUCache[str, Any]) -> Proof:
    """RFC 9449 §4.3 steps that need no server state: header, signature, htm, htu, iat, ath.

    Shared by authapi's own checks (`verify`, which adds the nonce and the replay
    cache) and by `authapi.resource`, which keeps its own replay cache.
    """
    if len(proof) > MAX_PROOF_LENGTH:
        raise InvalidDpopProof()
    found: list[str] = []

    def key_for(header: dict[str, Any]) -> tuple[Any, str]:
        key, alg, jkt = _public_key(header, keys_cache)
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
    numeric = isinstance(iat, int | float) and not isinstance(iat, bool)
    if not numeric or abs(time.time() - iat) > MAX_AGE:
        raise InvalidDpopProof(f"The proof's iat must be within {MAX_AGE} s of now.")
    ath = claims.get("ath")
    if access_token is not None and not (
            isinstance(ath, str) and hmac.compare_digest(ath, token_hash(access_token))):
        raise InvalidDpopProof("The proof's ath is not the hash of this access token.")
    return Proof(jkt=jkt, jti=jti, iat=float(iat), claims=claims)


def verify(proof: str, target: Target, access_token: str | None = None) -> str:
    """The JWK thumbprint of a valid, fresh, first-seen proof for `target`; else 401.

    `check_proof`, then the server nonce when AUTHAPI_DPOP_NONCE is on, and last (so
    only valid proofs fill it) the jti, once per key across every instance.
    """
    checked = check_proof(proof, target, access_token, _key_cache())
    claims, jkt, iat = checked.claims, checked.jkt, checked.iat
    if current_app.config["AUTHAPI_DPOP_NONCE"]:
        after_this_request(_send_nonce)  # RFC 9449 §8.2: a fresh nonce with every answer
        if not _nonce_valid(claims.get("nonce")):
            raise UseDpopNonce(headers={NONCE_HEADER: nonce()})
    if not replay.first_use(checked.replay_key(), iat + MAX_AGE + 1):
        raise InvalidDpopProof("This proof was already used.")
    return jkt


def proof_key_thumbprint(access_token: str | None = None,
                         target: Target | None = None) -> str | None:
    """The key thumbprint of the request's DPoP proof, None without one; 401 if invalid."""
    proof = request.headers.get(HEADER)
    if proof is None:
        return None
    return verify(proof.strip(), target or this_request(), access_token)


def check_use(token: str, forwarded: bool = False) -> dict[str, Any]:
    """The claims of an access token sent as `Authorization: DPoP`, proven by its key.

    RFC 9449 §7: a token that is not bound has no business on this scheme, and a
    bound one needs a proof by the key of its `cnf.jkt`, with `ath` its hash.
    """
    try:
        claims = tokens.decode(token, tokens.ACCESS)
    except ApiError as exc:  # RFC 9449 §7.1: challenge with the scheme the client used
        exc.headers["WWW-Authenticate"] = DPOP_INVALID_TOKEN
        raise
    cnf = claims.get("cnf")
    bound = cnf.get("jkt") if isinstance(cnf, dict) else None
    if not isinstance(bound, str):
        raise DpopTokenInvalid("Only a DPoP-bound token may be sent with the DPoP scheme.")
    target = forwarded_request() if forwarded else this_request()
    proven = proof_key_thumbprint(token, target)
    if proven is None:
        raise InvalidDpopProof("A DPoP-bound token needs a DPoP proof header.")
    if not hmac.compare_digest(proven, bound):
        raise InvalidDpopProof("The proof is signed by another key than the token is bound to.")
    return claims
