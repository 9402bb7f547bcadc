"""DPoP (RFC 9449): check proofs, bind tokens to the client's key, server nonces.

The one place a DPoP proof is verified. Wiring for an endpoint that issues tokens:

    jkt = dpop.proof_key_thumbprint()           # None without a DPoP header; 401 if bad
    token = tokens.issue_access(..., cnf=dpop.confirmation(jkt))
    answer["token_type"] = dpop.token_type(jkt)

and for one that accepts them: `dpop.check_use(token)` (authz.authenticate does it
for every guard). A check costs one signature verification and one replay-cache
write; parsed client keys are cached by thumbprint.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import time
from typing import Any, cast
from urllib.parse import urlsplit

from cachetools import LRUCache
from flask import Response, after_this_request, current_app

from authapi import context
from authapi.errors import DPOP_INVALID_TOKEN, ApiError, InvalidDpopProof, UseDpopNonce
from authapi.tokens import core, proofs, replay, tokens
from authapi.tokens.proofs import Target, normalize_url

HEADER = "DPoP"
NONCE_HEADER = "DPoP-Nonce"
SCHEME = "dpop"
SIGNING_ALGORITHMS = proofs.PROOF_ALGORITHMS
MAX_AGE = proofs.PROOF_MAX_AGE
KEY_CACHE = "authapi.dpop_keys"
KEY_CACHE_SIZE = 10_000


def public_origin() -> str:
    """authapi's public scheme and host, as a proof's `htu` must name them.

    Behind a trusted proxy (AUTHAPI_PROXY_COUNT > 0) that names the host it was asked
    for, ProxyFix has taken them from X-Forwarded-Proto and X-Forwarded-Host; otherwise
    they are the origin of AUTHAPI_ISSUER, never the request's Host header, which the
    client chooses (and a proxy may pass on as it came).
    """
    config = context.app().config
    if int(config["AUTHAPI_PROXY_COUNT"]) > 0:
        current = context.request()
        if current.environ.get("HTTP_X_FORWARDED_HOST"):
            return f"{current.scheme}://{current.host}"
    return _origin(str(config["AUTHAPI_ISSUER"]))


@functools.lru_cache(maxsize=8)
def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def this_request() -> Target:
    """The current request as a proof must name it: the public origin and this path."""
    current = context.request()
    return Target(current.method,
                  normalize_url(public_origin() + current.script_root + current.path))


def forwarded_request() -> Target:
    """The original request a trusted proxy names (forward-auth); else the current one.

    Only with AUTHAPI_PROXY_COUNT > 0, where ProxyFix has already taken the scheme and
    host from X-Forwarded-Proto and X-Forwarded-Host.
    """
    if int(context.app().config["AUTHAPI_PROXY_COUNT"]) <= 0:
        return this_request()
    current = context.request()
    method = current.headers.get("X-Forwarded-Method")
    uri = current.headers.get("X-Forwarded-Uri")
    if not method or not uri:
        return this_request()
    if not uri.startswith("/"):
        return Target(method.upper(), None)
    return Target(method.upper(), normalize_url(public_origin() + uri))


def confirmation(jkt: str | None) -> dict[str, str] | None:
    """The `cnf` claim binding a token to a key (RFC 9449 §6.1), or None when unbound."""
    return {"jkt": jkt} if jkt else None


def token_type(jkt: str | None) -> str:
    """`DPoP` for a bound token, else `Bearer` (RFC 9449 §5)."""
    return "DPoP" if jkt else "Bearer"


def nonce(at: float | None = None) -> str:
    """The server nonce of a time bucket: stateless, an HMAC under AUTHAPI_SECRET_KEY."""
    config = current_app.config
    bucket = int((time.time() if at is None else at) // int(config["AUTHAPI_DPOP_NONCE_PERIOD"]))
    mac = hmac.new(config["AUTHAPI_SECRET_KEY"].encode(), f"authapi dpop nonce {bucket}".encode(),
                   hashlib.sha256)
    return proofs.b64url(mac.digest()[:18])


def _nonce_valid(value: Any) -> bool:
    """A nonce of the current or of the previous bucket."""
    if not isinstance(value, str):
        return False
    now, period = time.time(), int(current_app.config["AUTHAPI_DPOP_NONCE_PERIOD"])
    return any(core.same_text(value, nonce(now - back * period)) for back in (0, 1))


def _send_nonce(response: Response) -> Response:
    response.headers[NONCE_HEADER] = nonce()
    return response


def _key_cache() -> LRUCache[str, Any]:
    extensions = context.app().extensions
    cache = extensions.get(KEY_CACHE)
    if cache is None:  # once per app (setdefault would build a new LRUCache every call)
        cache = extensions[KEY_CACHE] = LRUCache(maxsize=KEY_CACHE_SIZE)
    return cast("LRUCache[str, Any]", cache)


def verify(proof: str, target: Target, access_token: str | None = None) -> str:
    """The JWK thumbprint of a valid, fresh, first-seen proof for `target`; else 401.

    `proofs.check_proof`, then the server nonce when AUTHAPI_DPOP_NONCE is on, and last
    (so only valid proofs fill it) the jti, once per key across every instance.
    """
    checked = proofs.check_proof(proof, target, access_token, _key_cache(), time.time())
    claims, iat = checked.claims, checked.iat
    if context.app().config["AUTHAPI_DPOP_NONCE"]:
        after_this_request(_send_nonce)  # RFC 9449 §8.2: a fresh nonce with every answer
        if not _nonce_valid(claims.get("nonce")):
            raise UseDpopNonce(headers={NONCE_HEADER: nonce()})
    if not replay.first_use(checked.replay_key(), iat + MAX_AGE + 1):
        raise InvalidDpopProof("This proof was already used.")
    return checked.jkt


def proof_key_thumbprint(access_token: str | None = None,
                         target: Target | None = None) -> str | None:
    """The key thumbprint of the request's DPoP proof, None without one; 401 if invalid."""
    proof = context.request().headers.get(HEADER)
    if proof is None:
        return None
    return verify(proof.strip(), target or this_request(), access_token)


def check_use(token: str, forwarded: bool = False, any_audience: bool = False
              ) -> dict[str, Any]:
    """The claims of an access token sent as `Authorization: DPoP`, proven by its key.

    RFC 9449 §7: a token that is not bound has no business on this scheme, and a
    bound one needs a proof by the key of its `cnf.jkt`, with `ath` its hash.
    """
    try:
        claims = tokens.decode(token, tokens.ACCESS, any_audience=any_audience)
    except ApiError as exc:  # RFC 9449 §7.1: challenge with the scheme the client used
        exc.headers["WWW-Authenticate"] = DPOP_INVALID_TOKEN
        raise
    bound = cast(str, core.check_scheme(claims, by_dpop=True))
    target = forwarded_request() if forwarded else this_request()
    proven = proof_key_thumbprint(token, target)
    if proven is None:
        raise InvalidDpopProof("A DPoP-bound token needs a DPoP proof header.")
    proofs.check_proven(proven, bound)
    return claims
