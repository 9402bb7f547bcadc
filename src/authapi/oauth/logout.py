"""OpenID Connect RP-Initiated Logout: the ID token hint, and ending a browser's sign-in
with every app session opened from it."""

from __future__ import annotations

from typing import Any

import jwt
from flask import current_app
from sqlalchemy import select

from authapi import db
from authapi.errors import TokenInvalid
from authapi.models import UserSession
from authapi.sessions import sessions
from authapi.tokens import jws, keys


def id_token_hint(hint: str) -> dict[str, Any] | None:
    """The claims of an ID token authapi issued (expired ones too: a logout may come
    late, OIDC RP-Initiated Logout §2), or None if it is not one.

    Access and refresh tokens are signed by the same keys: an ID token is the one with
    `typ: JWT`, no `type` claim (authapi's own tokens carry one) and its client as both
    `aud` and `azp` (idtoken.issue). Anything else would let whoever holds a user's
    access token (a resource server, say) end that user's sign-in."""
    try:
        jws.check_canonical(hint)  # one spelling per token
        header = jwt.get_unverified_header(hint)
        key = keys.keyring().verification_key(str(header.get("kid")),
                                              current_app.config["AUTHAPI_JWT_ALGORITHM"])
        if key is None:
            return None
        claims: dict[str, Any] = jwt.decode(
            hint, key, algorithms=[current_app.config["AUTHAPI_JWT_ALGORITHM"]],
            issuer=current_app.config["AUTHAPI_ISSUER"],
            options={"verify_exp": False, "verify_aud": False, "require": ["sub", "aud"]})
    except (jwt.PyJWTError, ValueError, TypeError, TokenInvalid):
        return None
    if header.get("typ") != "JWT" or "type" in claims or claims.get("azp") != claims["aud"]:
        return None
    return claims


def end_sign_in(sign_in: UserSession | None, hinted_session: str | None) -> int:
    """RP-initiated logout: end the browser's sign-in and every app session opened from it
    (and the one an ID token hint names, with its own sign-in); how many sessions."""
    ended = set()
    roots = {s for s in (sign_in.id if sign_in else None, hinted_session) if s}
    for session_id in list(roots):
        row = db.orm().get(UserSession, session_id)
        if row is not None and row.sign_in_id:
            roots.add(row.sign_in_id)
    for root in roots:
        ended.add(root)
        ended.update(db.orm().scalars(select(UserSession.id).where(
            UserSession.sign_in_id == root, UserSession.revoked_at.is_(None))))
    for session_id in ended:
        sessions.revoke(session_id, "logout")
    return len(ended)
