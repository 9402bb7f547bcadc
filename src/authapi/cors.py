"""CORS for single-page apps (Flask-CORS): only the configured origins, with credentials."""

from __future__ import annotations

from flask import Flask
from flask_cors import CORS

ALLOWED_HEADERS = ["Authorization", "Content-Type", "X-CSRF-TOKEN", "DPoP"]
EXPOSED_HEADERS = ["DPoP-Nonce"]  # RFC 9449 §8: a browser client must read the nonce
ALLOWED_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
MAX_AGE = 600


def allowed_origins(raw: str) -> list[str]:
    """AUTHAPI_CORS_ORIGINS as a list of exact origins."""
    return [origin.strip().rstrip("/") for origin in raw.split(",") if origin.strip()]


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
