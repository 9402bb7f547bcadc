"""Structured logs: one JSON object a line on stderr, with the request's id.

The request id is the caller's `X-Request-ID` when it is a plausible id (so a proxy's
id follows the request through), else a fresh random one; every response echoes it.
Log records never carry request bodies, headers or tokens: callers pass only the
fields they mean to log (`extra={"fields": {...}}`), and the test suite greps a whole
walk-through's logs for passwords, tokens and secrets.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from datetime import UTC, datetime
from typing import Any

from flask import Flask, has_request_context

from authapi import context

LOGGER = "authapi"
REQUEST_ID_HEADER = "X-Request-ID"
REQUEST_ID_KEY = "authapi.request_id"
# Letters, digits and a few separators, at most 128: nothing that could forge a log line.
PLAUSIBLE_ID = re.compile(r"[A-Za-z0-9._:@-]{1,128}")


def request_id() -> str:
    """This request's id: the caller's X-Request-ID when plausible, else a new one."""
    return request_id_of(context.request().environ)


def request_id_of(environ: dict[str, Any]) -> str:
    """request_id() from the WSGI environ itself (the edge middleware has no request)."""
    rid: str | None = environ.get(REQUEST_ID_KEY)
    if rid is None:
        given = environ.get("HTTP_X_REQUEST_ID", "")
        rid = given if PLAUSIBLE_ID.fullmatch(given) else os.urandom(16).hex()
        environ[REQUEST_ID_KEY] = rid
    return rid


class JsonFormatter(logging.Formatter):
    """A record as one JSON line: time, level, logger, message, request id, fields."""

    def format(self, record: logging.LogRecord) -> str:
        """Serialize the record; unserializable field values become strings."""
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        rid = getattr(record, "request_id", None)
        if rid:
            entry["request_id"] = rid
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            entry.update({k: v for k, v in fields.items() if k not in entry})
        if record.exc_info:
            entry["exc_type"] = record.exc_info[0].__name__ if record.exc_info[0] else None
            entry["traceback"] = self.formatException(record.exc_info)
        return _ENCODE(entry)


# json.dumps(entry, default=str, ensure_ascii=False), without a new encoder per line:
# every audited request (a refresh, a token, a login) writes one.
_ENCODE = json.JSONEncoder(default=str, ensure_ascii=False).encode


def write_line(logger: str, message: str, level: int = logging.INFO,
               **fields: Any) -> None:
    """One JSON line on standard error, whatever the log level and handlers say: for what
    runs before or outside the app's logging (`authapi serve` before gunicorn, the
    console mailer)."""
    record = logging.LogRecord(logger, level, __file__, 0, message, None, None)
    record.fields = fields
    sys.stderr.write(JsonFormatter().format(record) + "\n")
    sys.stderr.flush()


class RequestIdFilter(logging.Filter):
    """Stamp records made while handling a request with that request's id."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Always keep the record; only add the id."""
        if has_request_context():
            record.request_id = request_id()
        return True


class StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is at the time (gunicorn, pytest's capture)."""

    def __init__(self) -> None:
        super().__init__()

    @property
    def stream(self) -> Any:
        """The current standard error."""
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def init_app(app: Flask) -> None:
    """Give the `authapi` logger one JSON handler on stderr (once per process)."""
    logger = logging.getLogger(LOGGER)
    logger.setLevel(str(app.config["AUTHAPI_LOG_LEVEL"]).upper())
    if not any(isinstance(h, StderrHandler) for h in logger.handlers):
        handler = StderrHandler()
        handler.setFormatter(JsonFormatter())
        handler.addFilter(RequestIdFilter())
        logger.addHandler(handler)
        logger.propagate = False  # one line per record, not one more from the root logger
