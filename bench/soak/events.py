"""What a soak run records: every request, every fault, every check, every sample.

Plain data, so the invariant checker (checks.py) can be fed a synthetic log in a test.
Times are seconds since the run's start.
"""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any

# Fault kinds. An outage makes 503 `service_unavailable` an allowed answer; a kill makes
# a lost answer (connection reset, nginx 502/504) an allowed answer, to be retried.
OUTAGES = frozenset({"pg_stop", "redis_stop"})
KILLS = frozenset({"worker_kill", "instance_kill", "rolling_restart"})
FAULT_KINDS = ("worker_kill", "instance_kill", "pg_stop", "redis_stop", "key_rotate",
               "rolling_restart")


@dataclass
class Request:
    t: float          # when the answer came (or the request failed)
    actor: str        # user, service, admin, attacker, prober
    endpoint: str     # e.g. "POST /auth/refresh"
    target: str       # nginx, a or b
    status: int       # 0: no HTTP answer (connection refused or reset, timeout)
    code: str         # the problem `code` / OAuth `error`, "" otherwise
    ms: float


@dataclass
class Fault:
    kind: str
    start: float
    end: float = -1.0  # when the harness saw the system whole again (-1: still running)
    detail: str = ""


@dataclass
class Check:
    """One verdict on an invariant that is not read off a status code alone."""

    t: float
    invariant: str
    ok: bool
    detail: str = ""


@dataclass
class Sample:
    """How one instance, asked directly, treated a token after it was revoked.

    `accepted_after`: the latest moment (seconds after the revocation) at which a
    request that the instance then answered 200 was sent; the bound is on this.
    `seconds`: when its first refusal arrived (includes a restarting instance's boot).
    """

    t: float
    kind: str                 # logout, session_delete, disable, roles, reuse
    instance: str
    seconds: float | None     # None: not refused when the sampler gave up (3 s)
    accepted_after: float | None = None
    skipped: bool = False     # the instance gave no answer at all (it was down)


@dataclass
class Rss:
    t: float
    instance: str
    pid: int
    kb: int


@dataclass
class EventLog:
    """Thread-safe enough: list.append is atomic in CPython; the lock guards the rest."""

    started: float = field(default_factory=time.monotonic)
    requests: list[Request] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)
    rss: list[Rss] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def now(self) -> float:
        return time.monotonic() - self.started

    def check(self, invariant: str, ok: bool, detail: str = "") -> None:
        self.checks.append(Check(self.now(), invariant, ok, detail))

    def as_dict(self) -> dict[str, Any]:
        return {name: [asdict(item) for item in getattr(self, name)]
                for name in ("faults", "checks", "samples", "rss")}
