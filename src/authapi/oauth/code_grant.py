"""The authorization code grant at the token endpoint (RFC 6749 §4.1.3, RFC 7636 §4.5,
OpenID Connect Core §3.1.3): a code, its verifier and redirect URI for the app's tokens
and, with `openid`, an ID token."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from authapi import audit
from authapi.audit import ClientMeta
from authapi.errors import InvalidDpopProof, InvalidOAuthRequest, UnauthorizedClient
from authapi.oauth import authorize, idtoken, registration
from authapi.oauth.clients import Caller
from authapi.sessions import sessions
from authapi.tokens.tokens import SignIn


def exchange(client: Caller, form: Mapping[str, str], meta: ClientMeta,
             jkt: str | None = None) -> dict[str, Any]:
    """The tokens a code was issued for, once; bound to `jkt` when a DPoP proof came."""
    if registration.AUTHORIZATION_CODE not in client.grant_types:
        raise UnauthorizedClient("This client may not use the authorization_code grant.")
    code = form.get("code")
    if not code:
        raise InvalidOAuthRequest("code is required.")
    app = authorize.app(client.client_id)
    if app is not None and app.require_dpop and jkt is None:
        raise InvalidDpopProof("This client's tokens must be DPoP-bound: send a DPoP proof.")
    redeemed = authorize.redeem(code, client.client_id, form.get("redirect_uri"),
                                form.get("code_verifier"))
    row, user, signed = redeemed.row, redeemed.user, redeemed.sign_in
    scope = row.granted_scope or ""
    sign_in = SignIn.stored(signed.auth_time, signed.acr, signed.amr) or SignIn.now(("pwd",))
    refresh = ("offline_access" in scope.split()
               or registration.REFRESH_TOKEN in client.grant_types)
    grant = sessions.AppGrant(client_id=client.client_id, scope=scope,
                              audience=tuple(row.resources or ()), sign_in_id=signed.id,
                              refresh=refresh)
    pair, session_id = sessions.start_app(user.id, meta, sign_in, grant, jkt)
    row.issued_session_id = session_id
    if "openid" in scope.split():
        pair["id_token"] = idtoken.issue(user, client.client_id, scope, sign_in, session_id,
                                         pair["access_token"], row.nonce)
    audit.record("authorization_code_exchanged", user_id=user.id, client_id=client.client_id,
                 detail={"session_id": session_id, "scope": scope})
    return pair
