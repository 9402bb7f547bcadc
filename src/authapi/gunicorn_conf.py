"""gunicorn settings for `authapi serve`: no server version, problem+json errors, metrics.

gunicorn answers some requests before the app sees them (a malformed request line,
a request line over 4094 bytes, over 100 header fields or one over 8190 bytes, a bad
chunk size): it writes a small HTML page through `gunicorn.util.write_error` and
names itself in `Server`. Both are public module names; replacing them here, in the
config module the master imports before it forks, gives every worker the API's
answers. What gunicorn still decides alone is *which* requests it refuses, and it
closes the connection after them (README, "Hardening").
"""

from __future__ import annotations

import json
import socket
from typing import Any

import gunicorn.http.wsgi
import gunicorn.util

from authapi import errors, metrics

SERVER = "authapi"
BY_STATUS: dict[int, type[errors.ApiError]] = {
    400: errors.BadRequest,
    413: errors.PayloadTooLarge,
    414: errors.UriTooLong,
    431: errors.HeadersTooLarge,
}


def write_error(sock: socket.socket, status_int: int, reason: str, mesg: str) -> None:
    """gunicorn's own error answers as problem+json; the request's text is never echoed."""
    error = BY_STATUS.get(status_int) or (errors.InternalError if status_int >= 500
                                          else errors.BadRequest)
    body = json.dumps({"type": "about:blank", "title": error.title, "status": status_int,
                       "detail": error.detail, "code": error.code})
    head = (f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\nServer: {SERVER}\r\n"
            f"Content-Type: {errors.PROBLEM_JSON}\r\nX-Content-Type-Options: nosniff\r\n"
            "Referrer-Policy: no-referrer\r\nCache-Control: no-store\r\n"
            f"Content-Length: {len(body)}\r\n\r\n")
    gunicorn.util.write_nonblock(sock, (head + body).encode("latin-1"))


gunicorn.http.wsgi.SERVER = SERVER  # the `Server` header of every response
gunicorn.http.wsgi.SERVER_SOFTWARE = SERVER  # environ's SERVER_SOFTWARE
gunicorn.util.write_error = write_error


def child_exit(_server: Any, worker: Any) -> None:
    """A worker exited: its live metrics files are merged into the totals (multiprocess)."""
    metrics.worker_exit(worker.pid)
