"""Token policy: which claims, which key, how they are checked (RFC 7519, 8725, 9068)."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import jwt
from flask import Flask, current_app
from flask_jwt_extended import JWTManager

from . import db, jws, keys, revocation
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


def minted_ms(jti: str) -> int:
    """The millisecond a jti of ours was minted; 0 if it is not one."""
    try:
        value = uuid.UUID(jti)
    except (ValueError, TypeError, AttributeError):
        return 0
    return value.int >> 80 if value.version == 7 else 0


def _encode(claims: dict[str, Any]) -> str:
    kid, key = keys.keyring().signing_key(db.session())
    algorithm = current_app.config["AUTHAPI_JWT_ALGORITHM"]
    return jwt.encode(claims, key, algorithm=algorithm,
                      headers={"kid": kid, "typ": TYPES[claims["type"]]})


def ready() -> None:
    """Make sure a signing key is loaded before the request writes anything.

    Creating the first key uses its own short transaction; on SQLite that must not
    wait behind a write lock this request already holds.
    """
    keys.keyring().signing_key(db.session())


def issue_access(subject: Subject, session_id: str | None, jti: str | None = None) -> str:
    """An access token with exactly the contract's claims."""
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
    if token_type == ACCESS:
        audience, expected = claims["aud"], config["AUTHAPI_AUDIENCE"]
        if audience != expected and not (isinstance(audience, list) and expected in audience):
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


def decode(token: str, token_type: str) -> dict[str, Any]:
    """Verify signature, issuer, audience, times and type; raise the contract's 401s.

    A token verified once is remembered (by its exact text) until the cache fills:
    its signature and static claims cannot change, so only the clock is re-checked.
    """
    if len(token) > MAX_TOKEN_LENGTH:
        raise TokenInvalid()
    verified = keys.keyring().verified
    claims = verified.get(token)
    if claims is None or claims["type"] != token_type:
        claims = jws.verify(token, _key_for(token_type))
        _check_static(claims, token_type)
        if len(verified) >= VERIFIED_CACHE_SIZE:
            verified.clear()
        verified[token] = claims
    _check_times(claims)
    return claims


def check_claims(claims: dict[str, Any], token_type: str) -> None:
    """The checks PyJWT does not make: type, and the shape of our own claims."""
    if claims.get("type") != token_type or not isinstance(claims.get("jti"), str):
        raise TokenInvalid()
    if "sid" in claims and not isinstance(claims["sid"], str):
        raise TokenInvalid()
    if token_type == ACCESS and not (isinstance(claims.get("roles", []), list)
                                     and isinstance(claims.get("scope", ""), str)):
        raise TokenInvalid()


def ensure_live(claims: dict[str, Any]) -> None:
    """Raise TokenRevoked if the token's session or the token itself was revoked."""
    if revocation.is_revoked(claims, minted_ms(claims["jti"])):
        raise TokenRevoked()


def verify_access(token: str) -> dict[str, Any]:
    """The claims of a valid, unrevoked access token."""
    claims = decode(token, ACCESS)
    ensure_live(claims)
    return claims


def _fje_key(header: dict[str, Any], _payload: dict[str, Any]) -> Any:
    if header.get("typ") != TYPES[REFRESH]:
        raise TokenInvalid()
    return verification_key(header)


def _fje_claims_ok(_header: dict[str, Any], claims: dict[str, Any]) -> bool:
    token_type = claims.get("type")
    if token_type not in REQUIRED:
        return False
    try:
        _check_static(claims, str(token_type))
    except TokenInvalid:
        return False
    return True


def _fje_revoked(_header: dict[str, Any], claims: dict[str, Any]) -> bool:
    # A refresh token's fate (rotated, reused, revoked) is decided by sessions.rotate
    # in one conditional UPDATE; answering here would blur token_reused into token_revoked.
    if claims.get("type") == REFRESH:
        return False
    return revocation.is_revoked(claims, minted_ms(str(claims.get("jti"))))


def init_app(app: Flask, jwt_manager: JWTManager) -> None:
    """Configure Flask-JWT-Extended for the refresh transport: header, JSON body or cookie."""
    config = app.config
    secure = config["AUTHAPI_ENV"] != "development"  # the contract: Secure outside development
    config.update(
        JWT_ALGORITHM=config["AUTHAPI_JWT_ALGORITHM"],
        JWT_DECODE_ALGORITHMS=[config["AUTHAPI_JWT_ALGORITHM"]],
        JWT_SECRET_KEY=config["AUTHAPI_SECRET_KEY"],
        JWT_DECODE_ISSUER=config["AUTHAPI_ISSUER"],
        JWT_DECODE_AUDIENCE=None,  # refresh tokens carry no `aud`; access tokens never pass here
        JWT_TOKEN_LOCATION=["headers", "json", "cookies"],
        JWT_REFRESH_JSON_KEY="refresh_token",
        JWT_REFRESH_COOKIE_NAME="refresh_token_cookie",
        JWT_REFRESH_COOKIE_PATH="/auth",
        JWT_REFRESH_CSRF_COOKIE_NAME="csrf_refresh_token",
        JWT_REFRESH_CSRF_COOKIE_PATH="/",
        JWT_REFRESH_CSRF_HEADER_NAME="X-CSRF-TOKEN",
        JWT_COOKIE_CSRF_PROTECT=True,
        JWT_CSRF_CHECK_FORM=False,
        JWT_COOKIE_SAMESITE="Strict",
        JWT_COOKIE_SECURE=secure,
        JWT_SESSION_COOKIE=False,
        JWT_REFRESH_TOKEN_EXPIRES=timedelta(seconds=abs(int(config["AUTHAPI_REFRESH_TTL"]))),
    )
    jwt_manager.decode_key_loader(_fje_key)
    jwt_manager.token_verification_loader(_fje_claims_ok)
    jwt_manager.token_in_blocklist_loader(_fje_revoked)
