"""Prometheus metrics: what is counted, and the /metrics exposition.

Under gunicorn, `authapi serve` sets PROMETHEUS_MULTIPROC_DIR (a folder in the
instance path, emptied at start), so every worker writes its samples to memory-mapped
files and /metrics sums them over all workers (prometheus-client's multiprocess mode).
Without it (tests, `flask run`), the process's own registry is exposed.

This module imports nothing of authapi's: any layer may count.
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# Methods are a client-chosen token: anything unusual is one label value, not a new series.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"  # no URL rule: a 404 or a 405 for any path at all

REQUESTS = Counter("authapi_http_requests", "HTTP requests answered, by route and status.",
                   ["method", "route", "status"])
LATENCY = Histogram("authapi_http_request_duration_seconds",
                    "Time from the WSGI call to the response, by route and status.",
                    ["method", "route", "status"],
                    buckets=(.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10))
LOGINS = Counter("authapi_logins", "Sign-in attempts by method and outcome.",
                 ["method", "outcome"])
TOKENS_ISSUED = Counter("authapi_tokens_issued", "Tokens signed, by type.", ["type"])
REVOCATIONS = Counter("authapi_revocations",
                      "Committed revocations, by what was revoked (session or jti).", ["kind"])
REUSE_DETECTIONS = Counter("authapi_refresh_reuse_detections",
                           "Refresh tokens presented again (their session was revoked).")
RATE_LIMIT_HITS = Counter("authapi_rate_limit_hits", "Requests refused by a rate limit.",
                          ["limit"])
CACHE_LOOKUPS = Counter("authapi_revocation_cache_lookups",
                        "Revocation-cache look-ups by result; hit ratio = hit / all.",
                        ["result"])
CACHE_HIT = CACHE_LOOKUPS.labels("hit")
CACHE_MISS = CACHE_LOOKUPS.labels("miss")

_series: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}
_issued: dict[str, Counter] = {}


def token_issued(kind: str) -> None:
    """Count one signed token of `kind` (its bound child cached: `labels` takes a lock
    and checks its values on every call)."""
    child = _issued.get(kind)
    if child is None:
        child = _issued[kind] = TOKENS_ISSUED.labels(kind)
    child.inc()


def observe(method: str, route: str, status: int, seconds: float) -> None:
    """Count one answered request and its latency (two bound children, cached per series)."""
    key = (method, route, status)
    children = _series.get(key)
    if children is None:
        label = method if method in METHODS else "OTHER"
        children = (REQUESTS.labels(label, route, str(status)),
                    LATENCY.labels(label, route, str(status)))
        _series[key] = children
    children[0].inc()
    children[1].observe(seconds)


def exposition() -> tuple[bytes, str]:
    """The text format of every metric, summed over the workers in multiprocess mode."""
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def worker_exit(pid: int) -> None:
    """Tell the multiprocess files that a worker is gone (gunicorn's child_exit hook)."""
    if os.environ.get(MULTIPROC_ENV):
        multiprocess.mark_process_dead(pid)
