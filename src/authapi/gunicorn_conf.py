"""gunicorn settings for `authapi serve`: problem+json for gunicorn's own refusals, JSON
logs, metrics.

gunicorn answers some requests before the app sees them (a malformed request line,
one over 4094 bytes, over 100 header fields or one over 8190 bytes, a bad chunk
size). `worker_class`, a documented setting, selects authapi's worker, whose
`handle_error` makes those answers the API's problems (gunicorn_worker.py). Nothing
of gunicorn is patched. Its `Server: gunicorn` header names no version, and gunicorn
has no setting to change it (README, "Hardening").
"""

from __future__ import annotations

import gc
from typing import Any

from authapi.ops import metrics

worker_class = "authapi.gunicorn_worker.ProblemWorker"
# gunicorn's own lines (its error log, and its access log when turned on) as JSON.
logger_class = "authapi.ops.gunicorn_logs.JsonLogger"


def post_worker_init(_worker: Any) -> None:
    """The worker has imported the app: move everything loaded so far out of the cyclic
    garbage collector's reach (`gc.freeze`). The app's modules, SQLAlchemy's compiled
    statements and the keyring live as long as the worker; without this, every full
    collection walks them again, about 4 % of a refresh's CPU (bench/RESULTS.md)."""
    gc.collect()
    gc.freeze()


def child_exit(_server: Any, worker: Any) -> None:
    """A worker exited: its live metrics files are merged into the totals (multiprocess)."""
    metrics.worker_exit(worker.pid)
