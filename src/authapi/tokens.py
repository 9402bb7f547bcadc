"""Token policy: which claims, which key, how they are checked (RFC 7519, 8725, 9068)."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

import jwt
from cachetools import LRUCache
from flask import Flask, current_app

from . import db, jws, keys, metrics, revocation
from .errors import TokenExpired, TokenInvalid, TokenRevoked

ACCESS, REFRESH = "access", "refresh"
REQUIRED = {
    ACCESS: ["iss", "sub", "aud", "iat", "nbf", "exp", "jti", "type"],
    REFRESH: ["iss", "sub", "iat", "exp", "jti", "type", "sid"],
}
# RFC 9068 §2.1 and RFC 8725 §3.11: explicit typing keeps one kind from passing as another.
TYPES = {ACCESS: "at+jwt", REFRESH: "JWT"}
MAX_TOKEN_LENGTH = 8192
VERIFIED_CACHE_SIZE = 50_000
CLOCK_SKEW = 60  # seconds a token's iat may run ahead of our clock


@dataclass(frozen=True)
class Subject:
    """Who a token speaks for, read from the database at issue time."""

    sub: str
    roles: list[str]
    scope: str


def new_jti() -> str:
    """A UUIDv7 (RFC 9562): random, and it records the millisecond it was minted."""
    value = (time.time_ns() // 1_000_000) << 80 | int.from_bytes(os.urandom(10), "big")
    value = value & ~(0xF << 76) | 0x7 << 76  # version 7
    value = value & ~(0x3 << 62) | 0x2 << 62  # RFC 9562 variant
    return str(uuid.UUID(int=value))


def _encode(claims: dict[str, Any]) -> str:
    kid, key = keys.keyring().signing_key(db.orm())
    algorithm = current_app.config["AUTHAPI_JWT_ALGORITHM"]
    metrics.TOKENS_ISSUED.labels(claims["type"]).inc()
    return jwt.encode(claims, key, algorithm=algorithm,
                      headers={"kid": kid, "typ": TYPES[claims["type"]]})


def load_signing_key() -> None:
    """Make sure a signing key is loaded before the request writes anything.

    Creating the first key uses its own short transaction; on SQLite that must not
    wait behind a write lock this request already holds.
    """
    keys.keyring().signing_key(db.orm())


def issue_access(subject: Subject, session_id: str | None, jti: str | None = None,
                 cnf: dict[str, str] | None = None, extra: dict[str, Any] | None = None) -> str:
    """An access token with exactly the contract's claims (+ `cnf` when DPoP-bound, + `extra`
    such as `client_id` or `act`)."""
    config = current_app.config
    jti = jti or new_jti()
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": config["AUTHAPI_ISSUER"], "sub": subject.sub, "aud": config["AUTHAPI_AUDIENCE"],
        "iat": now, "nbf": now, "exp": now + int(config["AUTHAPI_ACCESS_TTL"]), "jti": jti,
        "type": ACCESS, "roles": subject.roles, "scope": subject.scope,
    }
    if session_id is not None:
        claims["sid"] = session_id
    if cnf is not None:  # RFC 9449 §6.1: the key the token is bound to
        claims["cnf"] = cnf
    claims.update(extra or {})
    return _encode(claims)


def issue_refresh(sub: str, session_id: str, jti: str, extra: dict[str, Any] | None = None) -> str:
    """A refresh token with exactly the contract's claims (plus `csrf` in cookie mode)."""
    config = current_app.config
    now = int(time.time())
    claims = {"iss": config["AUTHAPI_ISSUER"], "sub": sub, "iat": now,
              "exp": now + int(config["AUTHAPI_REFRESH_TTL"]), "jti": jti, "type": REFRESH,
              "sid": session_id, **(extra or {})}
    return _encode(claims)


def verification_key(header: dict[str, Any]) -> Any:
    """The key for a token header: configured algorithm only, known kid only (RFC 8725 §3.1)."""
    algorithm = current_app.config["AUTHAPI_JWT_ALGORITHM"]
    kid = header.get("kid")
    if header.get("alg") != algorithm or not isinstance(kid, str):
        raise TokenInvalid()
    key = keys.keyring().verification_key(kid, algorithm)
    if key is None:
        raise TokenInvalid()
    return key


def _key_for(token_type: str) -> Callable[[dict[str, Any]], tuple[Any, str]]:
    def key_for(header: dict[str, Any]) -> tuple[Any, str]:
        if header.get("typ") != TYPES[token_type]:
            raise TokenInvalid()
        return verification_key(header), current_app.config["AUTHAPI_JWT_ALGORITHM"]

    return key_for


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_static(claims: dict[str, Any], token_type: str) -> None:
    """Everything about a verified payload that does not change with time."""
    config = current_app.config
    if any(name not in claims for name in REQUIRED[token_type]):
        raise TokenInvalid()
    if claims["iss"] != config["AUTHAPI_ISSUER"] or not isinstance(claims["sub"], str):
        raise TokenInvalid()
    if token_type == ACCESS and not (isinstance(claims["aud"], str) or (
            isinstance(claims["aud"], list) and all(isinstance(a, str) for a in claims["aud"]))):
        raise TokenInvalid()
    if not all(_number(claims[name]) for name in ("exp", "iat", "nbf") if name in claims):
        raise TokenInvalid()
    check_claims(claims, token_type)


def _check_times(claims: dict[str, Any]) -> None:
    """exp, nbf and iat against the clock (RFC 7519 §4.1.4, §4.1.5)."""
    now = time.time()
    if claims["exp"] <= now:
        raise TokenExpired()
    if claims.get("nbf", 0) > now or claims["iat"] > now + CLOCK_SKEW:
        raise TokenInvalid()


def _check_audience(claims: dict[str, Any]) -> None:
    """An access token must name our audience (RFC 7519 §4.1.3)."""
    audience, expected = claims["aud"], current_app.config["AUTHAPI_AUDIENCE"]
    if audience != expected and not (isinstance(audience, list) and expected in audience):
        raise TokenInvalid()


def _verified() -> LRUCache[str, dict[str, Any]]:
    return cast("LRUCache[str, dict[str, Any]]", current_app.extensions["authapi.verified"])


def decode(token: str, expected_type: str, *, any_audience: bool = False) -> dict[str, Any]:
    """The claims of a valid token of `expected_type`; else the contract's 401.

    The one place that decides validity, for every kind of token: signature with the
    configured algorithm and a known kid, `typ`, issuer, audience, required claims,
    times, and, for access tokens, revocation. A refresh token's revocation is
    decided by the conditional UPDATE that consumes it (sessions.rotate), which alone
    can tell a reuse from a revocation.

    Fast path (bench/micro.py: 80 µs uncached, 2.4 µs cached): an access token whose
    signature and static claims were verified once is remembered by its exact text
    in a bounded LRU; the clock and revocation are still checked on every call.

    `any_audience` is for introspection alone (RFC 7662): a token this server issued
    for another audience (token exchange) is reported on, and its holder checks `aud`.
    """
    if len(token) > MAX_TOKEN_LENGTH:
        raise TokenInvalid()
    verified = _verified()
    claims = verified.get(token)
    if claims is None:
        claims = jws.verify(token, _key_for(expected_type))
        _check_static(claims, expected_type)
        if expected_type == ACCESS:  # a refresh token is used once: caching it would
            verified[token] = claims  # only push hot access tokens out
    elif claims["type"] != expected_type:
        raise TokenInvalid()
    if expected_type == ACCESS and not any_audience:
        _check_audience(claims)
    _check_times(claims)
    if expected_type == ACCESS and revocation.is_revoked(claims):
        raise TokenRevoked()
    return claims


def check_claims(claims: dict[str, Any], token_type: str) -> None:
    """The shape of our own claims: type, jti, sid, roles and scope."""
    if claims.get("type") != token_type or not isinstance(claims.get("jti"), str):
        raise TokenInvalid()
    if "sid" in claims and not isinstance(claims["sid"], str):
        raise TokenInvalid()
    if token_type == ACCESS and not (isinstance(claims.get("roles", []), list)
                                     and isinstance(claims.get("scope", ""), str)):
        raise TokenInvalid()


def init_app(app: Flask) -> None:
    """The per-process cache of verified tokens."""
    app.extensions["authapi.verified"] = LRUCache(maxsize=VERIFIED_CACHE_SIZE)
