"""The one per-request hook of metrics and logs, and the gunicorn side of metrics.

A WSGI wrapper notes when the request arrived; one after_request hook echoes the
request id and counts the request with its latency under its URL rule (never the raw
path, which a client could vary without bound).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from time import perf_counter
from typing import Any

from flask import Flask, Response, request

from authapi.ops import logs, metrics

START_KEY = "authapi.start"
log = logging.getLogger("authapi.access")


class Timed:
    """WSGI middleware: remember the arrival time in the environ."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]
                 ) -> Iterable[bytes]:
        """Stamp and pass on."""
        environ[START_KEY] = perf_counter()
        return self.app(environ, start_response)


def observe(response: Response) -> Response:
    """Echo the request id; count the request and its latency by route and status."""
    environ = request.environ  # read through the proxy once: each lookup costs ~0.5 µs
    response.headers[logs.REQUEST_ID_HEADER] = logs.request_id()
    rule = request.url_rule
    route = rule.rule if rule is not None else metrics.UNMATCHED
    method, status = environ["REQUEST_METHOD"], response.status_code
    seconds = perf_counter() - environ.get(START_KEY, perf_counter())
    metrics.observe(method, route, status, seconds)
    if log.isEnabledFor(logging.INFO):  # off by default: see AUTHAPI_ACCESS_LOG
        log.info("request", extra={"fields": {
            "method": method, "route": route, "status": status,
            "duration_ms": round(seconds * 1000, 3), "ip": environ.get("REMOTE_ADDR")}})
    return response


def init_app(app: Flask) -> None:
    """Install the JSON logs, the arrival stamp and the hook."""
    logs.init_app(app)
    access = logging.getLogger("authapi.access")
    access.setLevel(logging.INFO if int(app.config["AUTHAPI_ACCESS_LOG"]) else logging.WARNING)
    app.wsgi_app = Timed(app.wsgi_app)  # type: ignore[method-assign]
    app.after_request(observe)
