"""The floor of every benchmark ratio: a bare Flask app with one JSON route.

No hooks, no extensions, no blueprints. It answers `GET /healthz` (the path of
authapi's own trivial route) so that the wrk scripts and the readiness probe of
bench/loadgen.py work unchanged. bench/run.py serves it with exactly authapi's
gunicorn command line, with only the bind address and `authapi.wsgi:app`
swapped for `bare_app:app`, pinned to the same core.

    taskset -c 0 python -m gunicorn ... bare_app:app    # with bench/ on PYTHONPATH
"""

from __future__ import annotations

from typing import Any

from flask import Flask

app = Flask(__name__)


@app.get("/healthz")
def healthz() -> dict[str, Any]:
    """One small JSON document, serialized by Flask as any JSON route would be."""
    return {"status": "ok"}
