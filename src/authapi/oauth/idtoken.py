"""ID tokens and userinfo (OpenID Connect Core §2, §3.1.3.6, §5.3): what an app learns
about the user it signed in, by the scopes the user let it have."""

from __future__ import annotations

import hashlib
import time
from typing import Any

from flask import current_app

from authapi.models import User
from authapi.tokens import proofs, tokens

# OIDC Core §3.1.3.6: the left half of the access token's hash, by the alg's hash.
HASHES = {"RS256": hashlib.sha256, "ES256": hashlib.sha256, "HS256": hashlib.sha256,
          "PS256": hashlib.sha256, "EdDSA": hashlib.sha512}


def at_hash(access_token: str) -> str:
    """`at_hash` of an access token under the configured signing algorithm."""
    digest = HASHES[current_app.config["AUTHAPI_JWT_ALGORITHM"]](access_token.encode()).digest()
    return proofs.b64url(digest[:len(digest) // 2])


def profile_claims(user: User, scope: str) -> dict[str, Any]:
    """`email`, `email_verified` (scope `email`) and `name` (scope `profile`)."""
    scopes = set(scope.split())
    claims: dict[str, Any] = {}
    if "email" in scopes:
        claims.update(email=user.email, email_verified=bool(user.email_verified))
    if "profile" in scopes and user.display_name:  # never the address in its place:
        claims["name"] = user.display_name           # that takes scope `email`
    return claims


def issue(user: User, client_id: str, scope: str, sign_in: tokens.SignIn, sid: str,
          access_token: str, nonce: str | None) -> str:
    """The ID token of a code exchange, signed by the keys of the JWKS."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": current_app.config["AUTHAPI_ISSUER"], "sub": user.id, "aud": client_id,
        "exp": now + int(current_app.config["AUTHAPI_ACCESS_TTL"]), "iat": now,
        "auth_time": sign_in.auth_time, "acr": sign_in.acr, "amr": list(sign_in.amr),
        "sid": sid, "at_hash": at_hash(access_token), "azp": client_id,
        **profile_claims(user, scope)}
    if nonce is not None:
        claims["nonce"] = nonce
    return tokens.sign(claims, "JWT")
