"""What makes a token valid: the one set of rules (RFC 7519, 8725, 9068, 9449), pure.

No Flask, no database, no network: the caller brings its keys (a `(kid, alg) -> key`
look-up), its clock (`now`) and, for DPoP, its cache of parsed proof keys. The server
(`tokens.decode`, `dpop`, the Flask-JWT-Extended loaders) and resource services
(`authapi.resource.Verifier`) call these functions; the rules are written here once.
The DPoP proof rules, as pure, are in `proofs`.

A check raises the contract's 401 error (`TokenInvalid`, `TokenExpired`,
`DpopTokenInvalid`, `InvalidDpopProof`); it never answers False.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from authapi.errors import (
    DpopTokenInvalid,
    InsufficientRole,
    InsufficientScope,
    InsufficientUserAuthentication,
    TokenExpired,
    TokenInvalid,
)
from authapi.tokens import jws

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
# The largest NumericDate taken (9999-12-31T23:59:59Z, the last second `datetime` holds),
# either way from the epoch: JSON can carry NaN, Infinity and integers no float holds.
MAX_NUMERIC_DATE = 253_402_300_799

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


def same_text(given: str, expected: str) -> bool:
    """Constant-time equality for a value the caller sent, whatever its characters:
    `hmac.compare_digest` raises TypeError for a str with non-ASCII in it (a 500), so both
    sides are compared as UTF-8 bytes (lone surrogates, which JSON can carry, included)."""
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"),
                               expected.encode("utf-8", "surrogatepass"))


def number(value: Any) -> bool:
    """A JSON number fit for a NumericDate (RFC 7519 §2): never a boolean, NaN, an
    infinity or beyond year 9999 (a comparison or a datetime would fail on those)."""
    return (isinstance(value, int | float) and not isinstance(value, bool)
            and -MAX_NUMERIC_DATE <= value <= MAX_NUMERIC_DATE)


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
    if not all(number(claims[name]) for name in ("exp", "iat", "nbf") if name in claims):
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
    if not number(exp):
        raise TokenInvalid()
    if exp <= now:
        raise TokenExpired()
    nbf, iat = claims.get("nbf", 0), claims.get("iat", 0)
    if not (number(nbf) and number(iat)) or nbf > now + LEEWAY or iat > now + LEEWAY:
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


# --- how the user signed in (OpenID Connect Core §2, RFC 8176, RFC 9470) ---
# The levels, weakest first: one factor, two factors, a passkey with user verification.
ACR_LEVELS = ("pwd", "mfa", "phr")
ACR_RANK = {acr: rank for rank, acr in enumerate(ACR_LEVELS)}
PASSKEY_METHODS = ("hwk", "swk")  # RFC 8176: a hardware-bound or a synced (software) key
USER_VERIFIED = "user"  # RFC 8176: the authenticator verified the user (PIN, biometric)


def sign_in_context(methods: tuple[str, ...]) -> tuple[str, list[str]]:
    """The `acr` and `amr` of a sign-in that proved `methods` (RFC 8176 names).

    A passkey with user verification is `phr`; any two methods are `mfa` (and `amr`
    says `mfa`); one is `pwd`.
    """
    amr = list(dict.fromkeys(methods))  # in order, once each
    if len(amr) > 1:
        amr.append("mfa")
    if USER_VERIFIED in amr and any(method in amr for method in PASSKEY_METHODS):
        return "phr", amr
    return ("mfa" if len(amr) > 1 else "pwd"), amr


def acr_level(acr: Any) -> int:
    """The rank of an `acr` value among ACR_LEVELS; -1 for anything else."""
    return ACR_RANK.get(acr, -1) if isinstance(acr, str) else -1


def check_sign_in(claims: dict[str, Any], now: float, acr: str | None = None,
                  max_age: int | None = None) -> None:
    """RFC 9470: raise InsufficientUserAuthentication unless the token's sign-in is at
    least `acr` and at most `max_age` seconds old.

    A token without `auth_time` (a service's, or one minted before it was recorded) is
    never recent; one without a known `acr` is below every level.
    """
    if acr is not None and acr_level(claims.get("acr")) < acr_level(acr):
        raise InsufficientUserAuthentication(
            f"This needs a sign-in of level {acr}.", acr=acr, max_age=max_age)
    if max_age is not None:
        auth_time: Any = claims.get("auth_time")
        if not number(auth_time) or now - auth_time > max_age:
            raise InsufficientUserAuthentication(
                f"This needs a sign-in within the last {max_age} seconds.", acr=acr,
                max_age=max_age)
