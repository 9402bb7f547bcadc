"""/.well-known: the public signing keys and the authorization server metadata."""

from __future__ import annotations

from typing import Any

from flask import current_app

from authapi import db, models
from authapi.oauth import oauth
from authapi.tokens import dpop, keys
from authapi.views import Blueprint

bp = Blueprint("wellknown", __name__, url_prefix="/.well-known", description="Discovery.")


@bp.get("/jwks.json")
@bp.response(200)
def jwks() -> Any:
    """Public keys that verify live tokens, old keys included until their tokens expire."""
    config = current_app.config
    keys.keyring().signing_key(db.orm)  # a fresh install publishes its first key
    # Verifiers may cache this; they refetch on an unknown kid, so a rotation is seen at once.
    cache = {"Cache-Control": f"public, max-age={int(config['AUTHAPI_JWKS_MAX_AGE'])}"}
    return {"keys": keys.published(db.orm(), keys.kept_for(config))}, 200, cache


@bp.get("/oauth-authorization-server")
@bp.response(200)
def authorization_server() -> Any:
    """RFC 8414 authorization server metadata."""
    cache = {"Cache-Control": f"public, max-age={int(current_app.config['AUTHAPI_JWKS_MAX_AGE'])}"}
    return oauth.metadata(), 200, cache


@bp.get("/openid-configuration")
@bp.response(200)
def openid_configuration() -> Any:
    """OpenID Connect Discovery 1.0: the same document as RFC 8414's."""
    return authorization_server()


@bp.get("/oauth-protected-resource")
@bp.response(200)
def protected_resource() -> Any:
    """RFC 9728: authapi's own API as a resource, and who issues tokens for it."""
    config = current_app.config
    cache = {"Cache-Control": f"public, max-age={int(config['AUTHAPI_JWKS_MAX_AGE'])}"}
    return {"resource": config["AUTHAPI_AUDIENCE"],
            "authorization_servers": [config["AUTHAPI_ISSUER"]],
            "scopes_supported": list(models.PERMISSIONS),
            "bearer_methods_supported": ["header"],
            "dpop_signing_alg_values_supported": list(dpop.SIGNING_ALGORITHMS)}, 200, cache
