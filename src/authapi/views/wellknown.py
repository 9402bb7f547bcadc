"""/.well-known: the public signing keys."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import current_app

from .. import db, keys
from . import Blueprint

bp = Blueprint("wellknown", __name__, url_prefix="/.well-known", description="Discovery.")


@bp.get("/jwks.json")
@bp.response(200)
def jwks() -> Any:
    """Public keys that verify live tokens, old keys included until their tokens expire."""
    config = current_app.config
    lifetime = max(int(config["AUTHAPI_ACCESS_TTL"]), int(config["AUTHAPI_REFRESH_TTL"]))
    keys.keyring().signing_key(db.orm())  # a fresh install publishes its first key
    return {"keys": keys.published(db.orm(), timedelta(seconds=lifetime))}
