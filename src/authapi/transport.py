"""How tokens travel: the bearer header, the JSON body, the refresh cookie with CSRF.

Kept apart from tokens.py (what a token is and whether it is valid). Flask-JWT-Extended
writes and clears the refresh cookies (names, paths, SameSite, Secure, Max-Age from
its settings), and its public loaders render its errors as our problems for host apps
that also use its decorators. It never decides whether a token is valid: its decoder
parses a token three times and would be a second verification stack.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from flask import Flask, Response, current_app, request
from flask_jwt_extended import JWTManager, set_refresh_cookies, unset_refresh_cookies

from . import errors, keys, tokens
from .errors import CsrfFailed, DpopTokenInvalid, TokenInvalid, TokenMissing

REFRESH_COOKIE = "refresh_token_cookie"
CSRF_COOKIE = "csrf_refresh_token"
CSRF_HEADER = "X-CSRF-TOKEN"
REFRESH_FIELD = "refresh_token"


def bearer_token() -> str:
    """The token of an `Authorization: Bearer` header (RFC 6750 §2.1)."""
    header = request.headers.get("Authorization")
    if not header:
        raise TokenMissing()
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer":
        # RFC 6750 §3.1: another scheme means no bearer credentials, so no error code.
        raise TokenMissing()
    token = token.strip()
    if not token or " " in token:
        raise TokenInvalid()
    return token


def access_credentials() -> tuple[str, str]:
    """The scheme (`bearer` or `dpop`) and token of the Authorization header.

    RFC 6750 §2.1 and RFC 9449 §7.1; another scheme means no credentials of ours.
    """
    header = request.headers.get("Authorization")
    if not header:
        raise TokenMissing()
    scheme, _, token = header.partition(" ")
    scheme = scheme.lower()
    if scheme not in ("bearer", "dpop"):
        raise TokenMissing()
    token = token.strip()
    if not token or " " in token:
        raise TokenInvalid() if scheme == "bearer" else DpopTokenInvalid()
    return scheme, token


def _bearer_or_none() -> str | None:
    header = request.headers.get("Authorization", "")
    return bearer_token() if header.partition(" ")[0].lower() == "bearer" else None


def refresh_claims(body: dict[str, Any] | None) -> tuple[dict[str, Any], bool]:
    """The verified claims of the presented refresh token, and whether it came by cookie.

    Looked for in the bearer header, then the JSON body's `refresh_token`, then the
    cookie, which must come with the matching CSRF value in X-CSRF-TOKEN (double
    submit: the value is bound into the token's `csrf` claim).
    """
    token = _bearer_or_none() or (body or {}).get(REFRESH_FIELD)
    if token:
        return tokens.decode(token, tokens.REFRESH), False
    return cookie_refresh_claims(), True


def cookie_refresh_claims() -> dict[str, Any]:
    """The verified claims of the refresh cookie, after the CSRF double-submit check."""
    cookie = request.cookies.get(REFRESH_COOKIE)
    if not cookie:
        raise TokenMissing()
    claims = tokens.decode(cookie, tokens.REFRESH)
    check_csrf(claims)
    return claims


def has_refresh_cookie() -> bool:
    """Whether the request carries the refresh cookie."""
    return REFRESH_COOKIE in request.cookies


def check_csrf(claims: dict[str, Any]) -> None:
    """The X-CSRF-TOKEN header must equal the cookie token's `csrf` claim."""
    sent, bound = request.headers.get(CSRF_HEADER, ""), claims.get("csrf")
    if not sent or not isinstance(bound, str) or not hmac.compare_digest(sent, bound):
        raise CsrfFailed()


def set_cookies(response: Response, refresh_token: str) -> None:
    """Put a refresh token in its HttpOnly cookie, and its CSRF value in a readable one."""
    max_age = abs(int(current_app.config["AUTHAPI_REFRESH_TTL"]))
    set_refresh_cookies(response, refresh_token, max_age=max_age)


def clear_cookies(response: Response) -> Response:
    """Expire both refresh cookies."""
    unset_refresh_cookies(response)
    return response


def _key_for_cookie(header: dict[str, Any], _payload: dict[str, Any]) -> Any:
    # Flask-JWT-Extended decodes a token we just issued to copy its csrf claim into
    # the CSRF cookie; it only needs the public key of our kid.
    key = keys.keyring().verification_key(str(header.get("kid")),
                                          current_app.config["AUTHAPI_JWT_ALGORITHM"])
    if key is None:
        raise TokenInvalid()
    return key


def _loaders(manager: JWTManager) -> None:
    """Flask-JWT-Extended's errors, for host apps using its decorators: our 401s, never 422."""

    def render(error: type[errors.ApiError]) -> Callable[..., Response]:
        return lambda *_args: errors.problem(error())

    manager.unauthorized_loader(render(errors.TokenMissing))
    manager.invalid_token_loader(render(errors.TokenInvalid))
    manager.expired_token_loader(render(errors.TokenExpired))
    manager.revoked_token_loader(render(errors.TokenRevoked))
    manager.needs_fresh_token_loader(render(errors.TokenInvalid))
    manager.token_verification_failed_loader(render(errors.TokenInvalid))
    manager.user_lookup_error_loader(render(errors.TokenInvalid))


def init_app(app: Flask) -> None:
    """Configure Flask-JWT-Extended's cookie settings and loaders."""
    config = app.config
    secure = config["AUTHAPI_ENV"] != "development"  # the contract: Secure outside development
    config.update(
        JWT_ALGORITHM=config["AUTHAPI_JWT_ALGORITHM"],
        JWT_DECODE_ALGORITHMS=[config["AUTHAPI_JWT_ALGORITHM"]],
        JWT_SECRET_KEY=config["AUTHAPI_SECRET_KEY"],
        JWT_DECODE_ISSUER=config["AUTHAPI_ISSUER"],
        JWT_DECODE_AUDIENCE=None,
        JWT_TOKEN_LOCATION=["headers", "cookies"],
        JWT_REFRESH_COOKIE_NAME=REFRESH_COOKIE,
        JWT_REFRESH_COOKIE_PATH="/auth",
        JWT_REFRESH_CSRF_COOKIE_NAME=CSRF_COOKIE,
        JWT_REFRESH_CSRF_COOKIE_PATH="/",
        JWT_REFRESH_CSRF_HEADER_NAME=CSRF_HEADER,
        JWT_COOKIE_CSRF_PROTECT=True,
        JWT_CSRF_CHECK_FORM=False,
        JWT_COOKIE_SAMESITE="Strict",
        JWT_COOKIE_SECURE=secure,
        JWT_SESSION_COOKIE=False,
        JWT_REFRESH_TOKEN_EXPIRES=timedelta(seconds=abs(int(config["AUTHAPI_REFRESH_TTL"]))),
    )
    manager = JWTManager(app)
    manager.decode_key_loader(_key_for_cookie)
    _loaders(manager)

