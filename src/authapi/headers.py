"""Security headers on every response, and Cache-Control where tokens or personal data go.

One after_request hook doing dict updates: it runs on every request, /healthz and
/auth/check included, so it reads no config and allocates nothing per request.
"""

from __future__ import annotations

from flask import Flask, Response, request

# Everything the API serves is JSON: nothing may load, frame or run anything.
API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
# Swagger UI at /docs: its own script, styles and images from this origin only.
DOCS_CSP = ("default-src 'none'; script-src 'self' 'unsafe-inline'; "
            "style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; "
            "frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
ALWAYS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Resource-Policy": "same-origin",
}
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
# Public documents with nothing personal in them; everything else may carry a token.
CACHEABLE_PREFIXES = ("/docs", "/openapi.json", "/.well-known/")


def secure(response: Response) -> Response:
    """Add the security headers; no-store unless the path is a public document."""
    headers = response.headers
    headers.update(ALWAYS)
    path = request.path
    headers["Content-Security-Policy"] = DOCS_CSP if path.startswith("/docs") else API_CSP
    if not path.startswith(CACHEABLE_PREFIXES):
        headers.update(NO_STORE)
    return response


def init_app(app: Flask) -> None:
    """Install the hook."""
    app.after_request(secure)
