"""Flask-JWT-Extended on host routes, held to authapi's rules through its public loaders.

A Flask developer who mounts authapi and guards a route of their own with
`@jwt_required()` gets exactly what authapi's guards decide for a bearer token:

- `decode_key_loader`: the header must fit `core` (typ of its `type`, the configured
  algorithm, a kid) and the kid must be one of authapi's keys; else 401 token_invalid.
- `token_verification_loader`: `core`'s claim and time rules; refresh tokens are
  refused (only /auth/refresh and /oauth/token consume them, once); a DPoP-bound token
  is no bearer token (RFC 9449 §7.1).
- `token_in_blocklist_loader`: authapi's revocation state (logout, logout-all, session
  delete, password change, disable, role change, reuse), 401 token_revoked.
- `user_lookup_loader`: `current_user` is the token's `Principal`, read from the
  verified claims (no database read per request).
- `encode_key_loader`: authapi issues every token; `create_access_token` refuses.

Flask-JWT-Extended still parses the token with PyJWT itself, so a host route costs one
PyJWT decode (about 300 µs) where authapi's guards use the cached fast path. Its
decorators read only the `Authorization: Bearer` header: a DPoP-bound token needs
authapi's own guards (`authz`), which check the proof.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Flask, Response, request
from flask_jwt_extended import JWTManager

from authapi import authz, errors
from authapi.errors import DpopTokenInvalid, TokenInvalid
from authapi.tokens import core, jws, revocation, tokens

ISSUES_ONLY = ("authapi issues every token (login, refresh, /oauth/token); "
               "Flask-JWT-Extended's create_*_token is not supported.")


@dataclass(frozen=True)
class Principal:
    """Who a verified access token speaks for: a user (with a session) or a service."""

    id: str
    roles: tuple[str, ...]
    scope: str
    session_id: str | None

    @property
    def is_user(self) -> bool:
        """A user's token carries its session; a service's (client credentials) none."""
        return self.session_id is not None


def _key(header: dict[str, Any], payload: dict[str, Any]) -> Any:
    """The verification key of an (as yet unverified) token: core's header rules first.

    The token is the Authorization header's, as authapi reads it (a route that lets
    Flask-JWT-Extended look in cookies, the query or the body finds none: an access token
    travels only in that header), and spelled in canonical base64url, as authapi's own
    verification demands."""
    scheme, _, raw = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not raw.strip():
        raise errors.TokenMissing()
    jws.check_canonical(raw.strip())
    kid, algorithm = core.check_header(header, str(payload.get("type")), tokens.rules())
    key = tokens.verification_key(kid, algorithm)
    if key is None:
        raise TokenInvalid()
    return key


def _verify(_header: dict[str, Any], payload: dict[str, Any]) -> bool:
    """core's rules on the verified payload, as authapi's guards apply them."""
    if payload.get("type") != core.ACCESS:
        raise TokenInvalid("A refresh token is accepted only by /auth/refresh and /oauth/token.")
    rules = tokens.rules()
    core.check_static(payload, core.ACCESS, rules)
    core.check_live(payload, core.ACCESS, rules, time.time())
    core.check_scheme(payload, by_dpop=False)
    tokens.check_first_hand(payload)
    authz.check_place(payload)
    return True


def _revoked(_header: dict[str, Any], payload: dict[str, Any]) -> bool:
    return revocation.is_revoked(payload)


def _principal(_header: dict[str, Any], payload: dict[str, Any]) -> Principal:
    return Principal(id=payload["sub"], roles=tuple(payload.get("roles", ())),
                     scope=str(payload.get("scope", "")), session_id=payload.get("sid"))


def _refuse_encoding(_identity: Any) -> Any:
    raise RuntimeError(ISSUES_ONLY)


def _missing(*_args: Any) -> Response:
    scheme = request.headers.get("Authorization", "").partition(" ")[0].lower()
    if scheme == "dpop":  # its decorators read Bearer only; a DPoP proof needs authz
        return errors.problem(DpopTokenInvalid(
            "Routes guarded by Flask-JWT-Extended take bearer tokens; a DPoP-bound token "
            "needs authapi's guards (authapi.authz), which check its proof."))
    return errors.problem(errors.TokenMissing())


def _render(error: type[errors.ApiError]) -> Callable[..., Response]:
    return lambda *_args: errors.problem(error())


def init_app(app: Flask) -> None:
    """Configure Flask-JWT-Extended to read authapi's tokens by authapi's rules."""
    config = app.config
    config.update(
        JWT_ALGORITHM=config["AUTHAPI_JWT_ALGORITHM"],
        JWT_DECODE_ALGORITHMS=[config["AUTHAPI_JWT_ALGORITHM"]],
        JWT_DECODE_ISSUER=config["AUTHAPI_ISSUER"],
        JWT_DECODE_AUDIENCE=config["AUTHAPI_AUDIENCE"],
        JWT_DECODE_LEEWAY=core.LEEWAY,  # core decides exp strictly in _verify
        JWT_TOKEN_LOCATION=["headers"],  # access tokens travel only in Authorization
        JWT_HEADER_TYPE="Bearer",
    )
    manager = JWTManager(app)
    manager.decode_key_loader(_key)
    manager.encode_key_loader(_refuse_encoding)
    manager.token_verification_loader(_verify)
    manager.token_in_blocklist_loader(_revoked)
    manager.user_lookup_loader(_principal)
    # Its errors as authapi's problems: 401 with WWW-Authenticate, never 422.
    manager.unauthorized_loader(_missing)
    manager.invalid_token_loader(_render(errors.TokenInvalid))
    manager.expired_token_loader(_render(errors.TokenExpired))
    manager.revoked_token_loader(_render(errors.TokenRevoked))
    manager.needs_fresh_token_loader(_render(errors.TokenInvalid))
    manager.token_verification_failed_loader(_render(errors.TokenInvalid))
    manager.user_lookup_error_loader(_render(errors.TokenInvalid))

