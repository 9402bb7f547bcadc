"""gunicorn's sync worker, answering the requests gunicorn refuses as problem+json.

gunicorn refuses some requests before the app sees them (a malformed request line,
one over 4094 bytes, over 100 header fields or one over 8190 bytes, a bad chunk
size) and answers with a small HTML page. Its worker's `handle_error(req, client,
addr, exc)` is where that answer is made: `ProblemWorker` overrides it, keeps
gunicorn's status, logging and access log for each error, and writes the API's
problem with the security headers instead. gunicorn still decides which requests
it refuses, and closes the connection after them (README, "Hardening"). Selected by
`worker_class` in gunicorn_conf.py.
"""

from __future__ import annotations

from datetime import datetime
from http import HTTPStatus
from ssl import SSLError
from typing import Any

from gunicorn.http import errors as refused
from gunicorn.http.wsgi import Response, default_environ
from gunicorn.util import write_nonblock
from gunicorn.workers.sync import SyncWorker
from werkzeug.exceptions import default_exceptions

from authapi import errors
from authapi.web import headers

# What gunicorn 27's Worker.handle_error counts as the client's fault (a warning, not a
# traceback); anything else is an application error, 500.
CLIENT_ERRORS = (
    refused.InvalidRequestLine, refused.InvalidRequestMethod, refused.InvalidHTTPVersion,
    refused.InvalidHeader, refused.InvalidHeaderName, refused.LimitRequestLine,
    refused.LimitRequestHeaders, refused.InvalidProxyLine, refused.ForbiddenProxyRequest,
    refused.InvalidSchemeHeaders, refused.UnsupportedTransferCoding,
    refused.ConfigurationProblem, refused.ObsoleteFolding, refused.ExpectationFailed,
    refused.InvalidH2CPreface, SSLError, refused.InvalidChunkSize,
    refused.ChunkMissingTerminator, refused.InvalidChunkExtension,
)
# A header the app tried to send: the app's fault, whatever its parent class says.
APP_ERRORS = (refused.InvalidResponseHeader, refused.InvalidResponseHeaderName)
# gunicorn's status for a client error other than 400 (none subclasses another here).
STATUS: tuple[tuple[type[BaseException], int], ...] = (
    (refused.LimitRequestLine, 414),
    (refused.LimitRequestHeaders, 431),
    (refused.ExpectationFailed, 417),
    (refused.ForbiddenProxyRequest, 403),
    (SSLError, 403),
    (refused.UnsupportedTransferCoding, 501),
    (refused.ConfigurationProblem, 500),
)
PROBLEMS: dict[int, errors.ApiError] = {
    400: errors.BadRequest("The request line, its headers or its chunked body are malformed."),
    414: errors.UriTooLong(),
    431: errors.HeadersTooLarge(),
    500: errors.InternalError(),
}


def status_of(exc: BaseException) -> int:
    """The status gunicorn answers this error with."""
    if isinstance(exc, APP_ERRORS) or not isinstance(exc, CLIENT_ERRORS):
        return 500
    return next((status for kind, status in STATUS if isinstance(exc, kind)), 400)


def answer(status: int) -> bytes:
    """The whole HTTP answer for a refused request: a problem, never the request's text."""
    error = PROBLEMS.get(status) or errors.from_http_exception(default_exceptions[status]())
    problem = errors.problem(error)
    fields = [("Connection", "close"), *problem.headers.items(), *headers.API_HEADERS,
              ("Cache-Control", "no-store")]
    body = problem.get_data()
    head = "".join(f"{name}: {value}\r\n" for name, value in fields if name != "Content-Length")
    return (f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n{head}"
            f"Content-Length: {len(body)}\r\n\r\n").encode("latin-1") + body


class ProblemWorker(SyncWorker):
    """gunicorn's sync worker; its refusals are the API's problem+json answers."""

    def handle_error(self, req: Any, client: Any, addr: Any, exc: BaseException) -> None:
        """Log and answer as gunicorn does, with the API's problem instead of its HTML."""
        started = datetime.now()
        addr = addr or ("", -1)  # a unix socket
        status = status_of(exc)
        if status == 500 and not isinstance(exc, refused.ConfigurationProblem):
            self.log.exception("Error handling request %s %s", getattr(req, "method", ""),
                               getattr(req, "uri", "(no URI read)"))
        else:
            self.log.warning("Invalid request from ip=%s: %s", addr[0], exc)
            if req is None and isinstance(exc, refused.InvalidHeader | refused.InvalidHeaderName):
                req = getattr(exc, "req", None)  # for the access log
        if req is not None:
            environ = default_environ(req, client, self.cfg)
            environ["REMOTE_ADDR"], environ["REMOTE_PORT"] = addr[0], str(addr[1])
            response = Response(req, client, self.cfg)
            response.status = f"{status} {HTTPStatus(status).phrase}"
            response.response_length = 0
            self.log.access(response, req, environ, datetime.now() - started)
        try:
            write_nonblock(client, answer(status))
        except Exception:  # the client is gone; as gunicorn does, say so only in debug
            self.log.debug("Failed to send error message.")
