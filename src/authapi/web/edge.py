"""The outermost WSGI layer: what every response carries, and each request's metrics.

It replaces two after_request hooks (security headers, request metrics) and a timing
wrapper: working on the raw header list that reaches the server, once, at
`start_response`, it costs a few µs where werkzeug's `Headers` and Flask's hook
machinery cost about 30 µs of every request (bench/hooks.py). It also covers answers
made outside Flask's handlers (the chunked-body 413 of bodylimit.py).

On every response:
- the security headers of its kind of path (web/headers.py);
- `Cache-Control: no-store` and `Pragma: no-cache` unless the path is a public
  document; `Vary: Origin`, so no cache hands one origin's CORS answer to another;
- no `Content-Type` on a 204;
- `X-Request-ID`: the caller's when plausible, else a new one (ops/logs.py).

Metrics count the request and its latency under its URL rule, never the raw path
(which a client could vary without bound), read from Flask's request object in the
environ once the app has answered.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from time import perf_counter
from typing import Any

from authapi.ops import logs, metrics
from authapi.web.headers import (
    API_HEADERS,
    CACHEABLE_PREFIXES,
    DOCS_HEADERS,
    PAGE_HEADERS,
    PAGE_PREFIXES,
    PAGES,
)

log = logging.getLogger("authapi.access")
NO_STORE = (("Cache-Control", "no-store"), ("Pragma", "no-cache"))
CACHING = frozenset(("cache-control", "pragma"))
REQUEST_KEY = "werkzeug.request"  # where werkzeug keeps the request object of an environ


def kind_of(path: str) -> tuple[tuple[str, str], ...]:
    """The security headers of a path: the docs page, the sign-in pages, or the API."""
    if path.startswith("/docs"):
        return DOCS_HEADERS
    if path.startswith(PAGE_PREFIXES) or path in PAGES:
        return PAGE_HEADERS
    return API_HEADERS


def finish_headers(path: str, status: str, headers: list[tuple[str, str]], rid: str) -> None:
    """Add what every response carries to the header list that goes to the server."""
    names = [name.lower() for name, _ in headers]
    drop: set[str] = set()
    if not path.startswith(CACHEABLE_PREFIXES):
        drop.update(CACHING.intersection(names))
        headers.extend(NO_STORE)
    if status.startswith("204") and "content-type" in names:
        drop.add("content-type")  # no content, no content type
    if "vary" in names:  # Flask-CORS may have said it already
        at = names.index("vary")
        varied = headers[at][1]
        if "origin" not in (v.strip().lower() for v in varied.split(",")):
            headers[at] = (headers[at][0], f"{varied}, Origin")
    else:
        headers.append(("Vary", "Origin"))
    if drop:
        headers[:] = [(n, v) for n, v in headers[:len(names)] if n.lower() not in drop] + \
            headers[len(names):]
    headers.extend(kind_of(path))
    headers.append((logs.REQUEST_ID_HEADER, rid))


class Edge:
    """WSGI middleware: the common response headers, then the request's metrics."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]
                 ) -> Iterable[bytes]:
        started = perf_counter()

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            finish_headers(environ.get("PATH_INFO", ""), status, headers,
                           logs.request_id_of(environ))
            observe(environ, int(status[:3]), perf_counter() - started)
            return start_response(status, headers, exc_info)

        return self.app(environ, start)


def observe(environ: dict[str, Any], status: int, seconds: float) -> None:
    """Count the request and its latency by route and status; log it when asked."""
    flask_request = environ.get(REQUEST_KEY)
    rule = getattr(flask_request, "url_rule", None)
    route = rule.rule if rule is not None else metrics.UNMATCHED
    method = environ["REQUEST_METHOD"]
    metrics.observe(method, route, status, seconds)
    if log.isEnabledFor(logging.INFO):  # off by default: see AUTHAPI_ACCESS_LOG
        log.info("request", extra={"fields": {
            "method": method, "route": route, "status": status,
            "duration_ms": round(seconds * 1000, 3), "ip": environ.get("REMOTE_ADDR")}})
