"""The provider's browser cookies, both HttpOnly, `SameSite=Lax` and scoped to `/oauth`:

- `authapi_session`, the sign-in: which session of which user this browser signed in
  with (the session id, signed with AUTHAPI_SECRET_KEY); it ends with the session.
- `authapi_request`, this browser's binding: a random value whose hash each of its
  authorization requests keeps, so another browser's request id is of no use.
"""

from __future__ import annotations

import secrets

from flask import Response, current_app, request
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import select

from authapi import db
from authapi.db import utcnow
from authapi.models import UserSession

SIGN_IN_COOKIE = "authapi_session"
BINDING_COOKIE = "authapi_request"
PATH = "/oauth"
SALT = "authapi oauth sign-in"


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["AUTHAPI_SECRET_KEY"], salt=SALT)


def _secure() -> bool:
    return bool(current_app.config["AUTHAPI_ENV"] != "development")


def _set(response: Response, name: str, value: str, max_age: int | None) -> None:
    response.set_cookie(name, value, max_age=max_age, path=PATH, secure=_secure(),
                        httponly=True, samesite="Lax")


def binding() -> tuple[str, bool]:
    """This browser's binding value, and whether it is new (to be set on the answer)."""
    value = request.cookies.get(BINDING_COOKIE)
    if value and 20 <= len(value) <= 64:
        return value, False
    return secrets.token_urlsafe(24), True


def set_binding(response: Response, value: str) -> None:
    _set(response, BINDING_COOKIE, value, None)  # a browser session cookie


def current() -> UserSession | None:
    """The live session this browser signed in with, or None."""
    raw = request.cookies.get(SIGN_IN_COOKIE)
    if not raw or len(raw) > 256:
        return None
    try:
        session_id = _serializer().loads(raw)
    except BadSignature:
        return None
    if not isinstance(session_id, str):
        return None
    return db.orm().scalar(select(UserSession).where(
        UserSession.id == session_id, UserSession.revoked_at.is_(None),
        UserSession.expires_at > utcnow(), UserSession.client_id.is_(None)))


def set_sign_in(response: Response, session_id: str) -> None:
    _set(response, SIGN_IN_COOKIE, _serializer().dumps(session_id),
         abs(int(current_app.config["AUTHAPI_REFRESH_TTL"])))


def clear_sign_in(response: Response) -> None:
    response.delete_cookie(SIGN_IN_COOKIE, path=PATH, secure=_secure(), httponly=True,
                           samesite="Lax")
