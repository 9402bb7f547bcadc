"""CORS for single-page apps: only configured origins, with credentials."""

from __future__ import annotations

from flask import Flask, Response, current_app, request

ALLOWED_HEADERS = "Authorization, Content-Type, X-CSRF-TOKEN"
ALLOWED_METHODS = "GET, POST, PUT, PATCH, DELETE, OPTIONS"


def allowed_origins() -> set[str]:
    """AUTHAPI_CORS_ORIGINS as a set."""
    raw = str(current_app.config["AUTHAPI_CORS_ORIGINS"] or "")
    return {origin.strip().rstrip("/") for origin in raw.split(",") if origin.strip()}


def apply(response: Response) -> Response:
    """Add CORS headers for an allowed Origin; always say the answer varies by Origin."""
    response.vary.add("Origin")
    origin = request.headers.get("Origin")
    if origin and origin in allowed_origins():
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Allow-Credentials"] = "true"
        if request.method == "OPTIONS":
            response.headers["Access-Control-Allow-Headers"] = ALLOWED_HEADERS
            response.headers["Access-Control-Allow-Methods"] = ALLOWED_METHODS
            response.headers["Access-Control-Max-Age"] = "600"
    return response


def init_app(app: Flask) -> None:
    """Install the response hook."""
    app.after_request(apply)
