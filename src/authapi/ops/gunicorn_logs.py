"""gunicorn's own log lines as JSON: its error log always, its access log when turned on.

`authapi serve` selects this class by gunicorn's documented `logger_class` setting
(gunicorn_conf.py). The error log ("Booting worker", "Worker exiting", a refused
request, a traceback) goes through ops/logs.py's JsonFormatter, one object a line,
as authapi's own records do. gunicorn's access log stays off unless the operator
turns it on (`GUNICORN_CMD_ARGS="--access-logfile -"`); authapi's own access log is
AUTHAPI_ACCESS_LOG. Each access line names the path but never the query string (a
query may carry a code or a token), and the request's id as the response's
`X-Request-ID` says it; the error log's messages lose their query strings too.
"""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from typing import Any

from gunicorn.glogging import Logger

from authapi.ops import logs

MAX_FIELD = 200  # characters kept of a path or a User-Agent
# A query string inside gunicorn's own messages ("Invalid HTTP request line: 'GET /x?…'",
# "Error handling request GET /x?…"): it may carry a code or a token.
QUERY = re.compile(r"\?[^\s'\"]*")


class QueryRedactor(logging.Filter):
    """Drop the query strings from a record's message before it is formatted."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Always keep the record; only its message changes."""
        message = record.getMessage()
        if "?" in message:
            record.msg, record.args = QUERY.sub("?…", message), None
        return True


def _request_id(resp: Any, environ: dict[str, Any]) -> str | None:
    """The id the app gave the request (ops/logs.py), or the one its response carries."""
    rid = environ.get(logs.REQUEST_ID_KEY)
    if rid:
        return str(rid)
    for name, value in getattr(resp, "headers", None) or ():
        if name.lower() == logs.REQUEST_ID_HEADER.lower():
            return str(value)
    return None


class JsonLogger(Logger):
    """gunicorn's logger with JSON formatters and a JSON access line."""

    def setup(self, cfg: Any) -> None:
        """gunicorn's handlers (stderr, files, syslog) each with the JSON formatter."""
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                handler.setFormatter(logs.JsonFormatter())
                handler.addFilter(QueryRedactor())

    def access(self, resp: Any, req: Any, environ: dict[str, Any],
               request_time: timedelta) -> None:
        """One JSON line per request, when gunicorn's access log is on."""
        if not self.access_log_enabled:
            return
        status = resp.status.split(None, 1)[0] if isinstance(resp.status, str) else resp.status
        fields = {
            "method": environ.get("REQUEST_METHOD"),
            "path": str(environ.get("PATH_INFO", ""))[:MAX_FIELD],
            "status": int(status) if str(status).isdigit() else status,
            "bytes": getattr(resp, "sent", None),
            "duration_ms": round(request_time.total_seconds() * 1000, 3),
            "ip": environ.get("REMOTE_ADDR"),
            "user_agent": str(environ.get("HTTP_USER_AGENT", ""))[:MAX_FIELD],
        }
        try:
            self.access_log.info("request", extra={
                "fields": fields, "request_id": _request_id(resp, environ)})
        except Exception:  # as gunicorn does: a bad line must not fail the request
            self.error_log.exception("access log line failed")

