"""The authorization code grant at the token endpoint (RFC 6749 §4.1.3, RFC 7636 §4.5,
OpenID Connect Core §3.1.3): a code, its verifier and redirect URI for the app's tokens
and, with `openid`, an ID token."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

from sqlalchemy import select, update

from authapi import audit, db
from authapi.audit import ClientMeta
from authapi.db import utcnow
from authapi.errors import (
    InvalidGrant,
    InvalidOAuthRequest,
    UnauthorizedClient,
)
from authapi.models import AuthorizationRequest, User, UserSession
from authapi.oauth import authorize, idtoken, registration
from authapi.oauth.clients import Caller
from authapi.sessions import sessions
from authapi.tokens import proofs
from authapi.tokens.tokens import SignIn


@dataclass(frozen=True)
class Redeemed:
    """A code's request, claimed by the one exchange that used it."""

    row: AuthorizationRequest
    user: User
    sign_in: UserSession


def redeem(code: str, client_id: str, redirect_uri: str | None, verifier: str | None
           ) -> Redeemed:
    """The request a code was issued for, used once (RFC 6749 §4.1.3, RFC 7636 §4.6).

    A second use revokes what the first issued (RFC 6749 §4.1.2) and is refused, as is
    a code of another client, another redirect URI, a wrong verifier or an old code.
    """
    row = db.orm().scalar(select(AuthorizationRequest).where(
        AuthorizationRequest.code_hash == authorize.hashed(code))) if 0 < len(code) <= 128 else None
    if row is None or row.client_id != client_id:
        raise InvalidGrant("The code is invalid, or was issued to another client.")
    if row.code_used_at is not None:
        _reused(row, client_id)
    if row.code_expires_at is None or row.code_expires_at <= utcnow():
        raise InvalidGrant("The code expired.")
    # RFC 6749 §4.1.3: required, and identical, when the authorization request named one.
    if redirect_uri != row.redirect_uri and (redirect_uri is not None or row.redirect_uri_sent):
        raise InvalidGrant("redirect_uri differs from the authorization request's.")
    if not verifier or not authorize.PKCE.match(verifier) or not hmac.compare_digest(
            proofs.b64url(hashlib.sha256(verifier.encode()).digest()), row.code_challenge):
        raise InvalidGrant("code_verifier does not match the code_challenge.")
    claimed = db.affected(update(AuthorizationRequest).where(
        AuthorizationRequest.id == row.id, AuthorizationRequest.code_used_at.is_(None))
        .values(code_used_at=utcnow()))
    if not claimed:  # a concurrent exchange of the same code won, and has committed
        db.orm().refresh(row)
        _reused(row, client_id)
    user = db.orm().get(User, row.user_id) if row.user_id else None
    sign_in = db.orm().get(UserSession, row.sign_in_id) if row.sign_in_id else None
    if user is None or user.disabled or sign_in is None or sign_in.revoked_at is not None:
        raise InvalidGrant("The sign-in behind this code has ended.")
    return Redeemed(row=row, user=user, sign_in=sign_in)


def _reused(row: AuthorizationRequest, client_id: str) -> NoReturn:
    """A second use of a code (RFC 6749 §4.1.2): revoke what the first issued, refuse."""
    if row.issued_session_id is not None:
        sessions.revoke(row.issued_session_id, "code_reused")
    audit.record("code_reused", user_id=row.user_id, client_id=client_id)
    db.orm().commit()  # the revocation outlives the refusal
    raise InvalidGrant("The code was already used; what it issued is revoked.")


def exchange(client: Caller, form: Mapping[str, str], meta: ClientMeta,
             jkt: str | None = None, resources: Sequence[str] = ()) -> dict[str, Any]:
    """The tokens a code was issued for, once; bound to `jkt` when a DPoP proof came, and
    for some of the authorized `resources` when the request names them (RFC 8707 §2.2)."""
    if registration.AUTHORIZATION_CODE not in client.grant_types:
        raise UnauthorizedClient("This client may not use the authorization_code grant.")
    code = form.get("code")
    if not code:
        raise InvalidOAuthRequest("code is required.")
    redeemed = redeem(code, client.client_id, form.get("redirect_uri"),
                      form.get("code_verifier"))
    row, user, signed = redeemed.row, redeemed.user, redeemed.sign_in
    scope = row.granted_scope or ""
    sign_in = SignIn.stored(signed.auth_time, signed.acr, signed.amr) or SignIn.now(("pwd",))
    pair, session_id = app_tokens(client, user, scope, row.resources, sign_in, meta, jkt,
                                  sign_in_id=signed.id, nonce=row.nonce, requested=resources)
    row.issued_session_id = session_id
    audit.record("authorization_code_exchanged", user_id=user.id, client_id=client.client_id,
                 detail={"session_id": session_id, "scope": scope})
    return pair


def app_tokens(client: Caller, user: User, scope: str, resources: Any, sign_in: SignIn,
               meta: ClientMeta, jkt: str | None, *, sign_in_id: str | None = None,
               nonce: str | None = None, requested: Sequence[str] = ()
               ) -> tuple[dict[str, Any], str]:
    """An app's session for a user and its tokens (the code and device grants): a refresh
    token with `offline_access` or the refresh grant, an ID token with `openid`. The
    session holds every authorized resource; the access token those `requested`."""
    refresh = ("offline_access" in scope.split()
               or registration.REFRESH_TOKEN in client.grant_types)
    offered = authorize.app(client.client_id)
    grant = sessions.AppGrant(client_id=client.client_id, scope=scope,
                              audience=tuple(resources or ()), sign_in_id=sign_in_id,
                              refresh=refresh,
                              offered=lambda s: authorize.offered(offered, s)
                              ).narrowed(requested)
    pair, session_id = sessions.start_app(user.id, meta, sign_in, grant, jkt,
                                          bind=client.public)
    if "openid" in scope.split():
        pair["id_token"] = idtoken.issue(user, client.client_id, scope, sign_in, session_id,
                                         pair["access_token"], nonce)
    return pair, session_id
