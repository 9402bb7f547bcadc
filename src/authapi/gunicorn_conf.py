"""gunicorn settings that `authapi serve` loads (`--config python:authapi.gunicorn_conf`)."""

from __future__ import annotations

from typing import Any

from authapi import metrics


def child_exit(_server: Any, worker: Any) -> None:
    """A worker exited: its live metrics files are merged into the totals (multiprocess)."""
    metrics.worker_exit(worker.pid)
