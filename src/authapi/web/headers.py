"""Which security headers go on which response, and which paths may be cached.

web/edge.py puts them on every response, at the WSGI edge; the gunicorn worker's own
error answers (gunicorn_worker.py) carry the API's too.
"""

from __future__ import annotations

# Everything the API serves is JSON: nothing may load, frame or run anything.
API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
# Swagger UI at /docs: its own script, styles and images from this origin only.
DOCS_CSP = ("default-src 'none'; script-src 'self' 'unsafe-inline'; "
            "style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; "
            "frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
# The provider's sign-in page: its own script, styles and fetches; nothing inline.
PAGE_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
PAGE_PREFIXES = ("/oauth/login", "/oauth/assets/", "/oauth/signed-out")
PAGES = ("/oauth/device",)
ALWAYS = (
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("X-Frame-Options", "DENY"),
    ("Cross-Origin-Resource-Policy", "same-origin"),
)
API_HEADERS = (*ALWAYS, ("Content-Security-Policy", API_CSP))
DOCS_HEADERS = (*ALWAYS, ("Content-Security-Policy", DOCS_CSP))
PAGE_HEADERS = (*ALWAYS, ("Content-Security-Policy", PAGE_CSP))
# Public documents with nothing personal in them; everything else may carry a token.
CACHEABLE_PREFIXES = ("/docs", "/openapi.json", "/.well-known/")
