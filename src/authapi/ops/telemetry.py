"""JSON logs and the access log's level. The request metrics, the request id and the
access log lines are web/edge.py's, at the WSGI edge."""

from __future__ import annotations

import logging

from flask import Flask

from authapi.ops import logs


def init_app(app: Flask) -> None:
    """Install the JSON logs; the access log only with AUTHAPI_ACCESS_LOG."""
    logs.init_app(app)
    access = logging.getLogger("authapi.access")
    access.setLevel(logging.INFO if int(app.config["AUTHAPI_ACCESS_LOG"]) else logging.WARNING)
