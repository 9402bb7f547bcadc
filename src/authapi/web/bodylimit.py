"""The 64 KiB body limit for chunked requests, which carry no Content-Length.

werkzeug applies MAX_CONTENT_LENGTH to a chunked body (gunicorn sets
`wsgi.input_terminated`) by *truncating* the read at the limit: a body of valid JSON
followed by padding then parses, and a 100 KiB request registered a user. So a
chunked body is read here, before the app, up to one byte past the limit: over it,
the app answers 413 and reads nothing; within it, the app sees an ordinary body with
a Content-Length. Requests that carry a Content-Length pass straight through.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from typing import Any

TOO_LARGE = "authapi.body_too_large"


class ChunkedBodyLimit:
    """WSGI middleware: buffer a length-less body of at most `limit` bytes, or flag it."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app = app
        self.limit = limit

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        """Pass the request on, its chunked body made an ordinary one (or flagged)."""
        # Without Content-Length or Transfer-Encoding an HTTP/1.1 request has no body
        # (RFC 9112 §6.3): GETs pass without a read.
        if ("HTTP_TRANSFER_ENCODING" in environ and not environ.get("CONTENT_LENGTH")
                and environ.get("wsgi.input_terminated")):
            data = environ["wsgi.input"].read(self.limit + 1)
            if len(data) > self.limit:
                environ[TOO_LARGE] = True
                data = b""
            environ["wsgi.input"] = io.BytesIO(data)
            environ["CONTENT_LENGTH"] = str(len(data))
        return self.app(environ, start_response)
