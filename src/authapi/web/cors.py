"""CORS for single-page apps (Flask-CORS): only the configured origins, with credentials."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask
from flask_cors import CORS

from authapi.config import ConfigError

ALLOWED_HEADERS = ["Authorization", "Content-Type", "X-CSRF-TOKEN", "DPoP"]
EXPOSED_HEADERS = ["DPoP-Nonce"]  # RFC 9449 §8: a browser client must read the nonce
ALLOWED_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
MAX_AGE = 600
# Flask-CORS reads an origin holding any of these as a regular expression ("*" would
# then allow every origin, with credentials): the contract allows exact origins only.
PATTERN_CHARACTERS = set("*\\]?$^[]()")


def allowed_origins(raw: str) -> list[str]:
    """AUTHAPI_CORS_ORIGINS as a list of exact origins; anything else is refused."""
    origins = [origin.strip().rstrip("/") for origin in raw.split(",") if origin.strip()]
    for origin in origins:
        parts = urlsplit(origin)
        if (parts.scheme not in ("http", "https") or not parts.hostname or parts.path
                or parts.query or parts.fragment or "@" in parts.netloc
                or PATTERN_CHARACTERS & set(origin)):
            raise ConfigError(f"AUTHAPI_CORS_ORIGINS: {origin!r} is not an origin "
                              "(scheme://host[:port], no wildcard)")
    return origins


def init_app(app: Flask) -> None:
    """Answer CORS for the configured origins; with none configured, install nothing.

    Every response says `Vary: Origin` (security headers in __init__), whatever the
    origin list, so no cache serves one origin's answer to another.
    """
    origins = allowed_origins(str(app.config["AUTHAPI_CORS_ORIGINS"] or ""))
    if origins:
        CORS(app, origins=origins, supports_credentials=True, allow_headers=ALLOWED_HEADERS,
             methods=ALLOWED_METHODS, max_age=MAX_AGE, vary_header=True,
             expose_headers=EXPOSED_HEADERS)
