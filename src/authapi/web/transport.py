"""How tokens travel: the Authorization header, the JSON body, the refresh cookie.

Transport only carries (the fastapi-users split of transport and strategy): it says
which credential came and from where, and writes and clears the refresh cookies. It
never decides whether a token is valid; `tokens` and `core` do that, and domain
functions never read the request.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Response, current_app, request

from authapi import context
from authapi.errors import BadRequest, DpopTokenInvalid, TokenInvalid, TokenMissing

REFRESH_COOKIE = "refresh_token_cookie"
CSRF_COOKIE = "csrf_refresh_token"
CSRF_HEADER = "X-CSRF-TOKEN"
REFRESH_FIELD = "refresh_token"
REFRESH_COOKIE_PATH = "/auth"
CSRF_COOKIE_PATH = "/"  # page scripts read it and echo it in X-CSRF-TOKEN
HEADER, BODY, COOKIE = "header", "body", "cookie"


@dataclass(frozen=True)
class Credential:
    """A token as it came, and from where (`HEADER`, `BODY` or `COOKIE`).

    A cookie credential carries the `X-CSRF-TOKEN` value sent with it, for the double
    submit check (`tokens.refresh_claims`).
    """

    token: str
    source: str
    csrf: str = ""


def access_credentials() -> tuple[str, str]:
    """The scheme (`bearer` or `dpop`) and token of the Authorization header.

    RFC 6750 §2.1 and RFC 9449 §7.1; another scheme means no credentials of ours, so no
    error code (RFC 6750 §3.1).
    """
    header = context.request().headers.get("Authorization")
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


def bearer_token() -> str:
    """The token of an `Authorization: Bearer` header (RFC 6750 §2.1)."""
    scheme, token = access_credentials()
    if scheme != "bearer":
        raise TokenMissing()
    return token


def refresh_credential(body: dict[str, Any] | None) -> Credential:
    """The refresh token of a /auth/refresh request: the bearer header, the JSON body's
    `refresh_token`, or the cookie (with the X-CSRF-TOKEN sent beside it), in that order."""
    token = (body or {}).get(REFRESH_FIELD)
    if context.request().headers.get("Authorization", "").partition(" ")[0].lower() == "bearer":
        sent = bearer_token()
        if token and token != sent:  # RFC 6750 §2: one method per request, never two tokens
            raise BadRequest("Send the refresh token once: the header or the body.")
        return Credential(sent, HEADER)
    if token:
        return Credential(token, BODY)
    return cookie_credential()


def cookie_credential() -> Credential:
    """The refresh cookie and the X-CSRF-TOKEN header sent with it."""
    cookie = request.cookies.get(REFRESH_COOKIE)
    if not cookie:
        raise TokenMissing()
    return Credential(cookie, COOKIE, request.headers.get(CSRF_HEADER, ""))


def has_refresh_cookie() -> bool:
    """Whether the request carries the refresh cookie."""
    return REFRESH_COOKIE in request.cookies


def _secure() -> bool:
    return bool(current_app.config["AUTHAPI_ENV"] != "development")  # the contract


def set_cookies(response: Response, refresh_token: str, csrf: str) -> None:
    """The refresh token in its HttpOnly cookie, its CSRF value in a readable one.

    Written with Flask's own `set_cookie`: nothing re-reads the token authapi just
    signed. Both die with the token (Max-Age = the refresh TTL).
    """
    max_age = abs(int(current_app.config["AUTHAPI_REFRESH_TTL"]))
    secure = _secure()
    response.set_cookie(REFRESH_COOKIE, refresh_token, max_age=max_age,
                        path=REFRESH_COOKIE_PATH, secure=secure, httponly=True,
                        samesite="Strict")
    response.set_cookie(CSRF_COOKIE, csrf, max_age=max_age, path=CSRF_COOKIE_PATH,
                        secure=secure, httponly=False, samesite="Strict")


def clear_cookies(response: Response) -> Response:
    """Expire both refresh cookies."""
    secure = _secure()
    response.delete_cookie(REFRESH_COOKIE, path=REFRESH_COOKIE_PATH, secure=secure,
                           httponly=True, samesite="Strict")
    response.delete_cookie(CSRF_COOKIE, path=CSRF_COOKIE_PATH, secure=secure,
                           samesite="Strict")
    return response
