"""The invariants, judged from an EventLog alone (no process, no network: testable).

Each invariant answers {"checked": n, "broken": m, "examples": [...]}; the run is red
when any `broken` is above zero.
"""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass
from typing import Any

from .events import KILLS, OUTAGES, EventLog, Fault, Request

SLACK = 5.0            # seconds after a fault's end in which its effects may still show
REVOCATION_BOUND = 1.0
RSS_GROWTH = 0.10
RECOVERY_BOUND = 5.0
RECOVERED = 0.75       # a second is back to level when it serves 75 % of the steady rate
EXAMPLES = 5


@dataclass
class Limits:
    warmup: float = 5.0          # seconds of run before the steady rate is measured
    rss_warmup: float = 20.0     # seconds of a worker's life before its RSS baseline
    rss_span: float = 20.0       # seconds of life after the baseline needed to judge it


def _tally(broken: list[str], checked: int) -> dict[str, Any]:
    return {"checked": checked, "broken": len(broken), "examples": broken[:EXAMPLES]}


def _inside(t: float, faults: list[Fault], kinds: frozenset[str], before: float = 0.0) -> bool:
    return any(f.kind in kinds and f.start - before <= t <= (f.end if f.end >= 0 else t) + SLACK
               for f in faults)


def server_errors(log: EventLog) -> tuple[dict[str, Any], dict[str, int]]:
    """No 5xx but 503 `service_unavailable` in an outage; no lost answer outside a kill.

    A request in flight on a process that is SIGKILLed has no answer: the connection
    drops, or nginx answers 502 (503 where deploy/nginx.conf maps 502 to its own
    `service_unavailable`). That is the lost answer the client retries (the grace
    invariant judges the retry), allowed only in a kill's window."""
    broken, allowed = [], Counter[str]()
    for r in log.requests:
        if r.status < 500 and r.status != 0:
            continue
        if r.status == 503 and r.code == "service_unavailable" and _inside(
                r.t, log.faults, OUTAGES):
            allowed["503 in an outage"] += 1
        elif r.status in (0, 502, 503, 504) and _inside(r.t, log.faults, KILLS, before=1.0):
            allowed["lost answer in a kill, " + ("via nginx" if r.target == "nginx"
                                                  else "instance asked directly")] += 1
        else:
            broken.append(f"t={r.t:.1f}s {r.endpoint} via {r.target}: {r.status} {r.code}".strip())
    return _tally(broken, len(log.requests)), dict(allowed)


def from_checks(log: EventLog, invariant: str) -> dict[str, Any]:
    mine = [c for c in log.checks if c.invariant == invariant]
    return _tally([f"t={c.t:.1f}s {c.detail}" for c in mine if not c.ok], len(mine))


def revocation(log: EventLog) -> dict[str, Any]:
    """No instance, asked directly, accepted a revoked token more than 1 s after the
    revocation, and each refused it before the sampler gave up."""
    judged = [s for s in log.samples if not s.skipped]
    broken = []
    for s in judged:
        if s.seconds is None:
            broken.append(f"t={s.t:.1f}s {s.kind} on {s.instance}: still accepted after 3 s")
        elif s.accepted_after is not None and s.accepted_after > REVOCATION_BOUND:
            broken.append(f"t={s.t:.1f}s {s.kind} on {s.instance}: accepted "
                          f"{s.accepted_after:.2f}s after the revocation")
    result = _tally(broken, len(judged))
    refused = sorted(s.seconds for s in judged if s.seconds is not None)
    if refused:
        result["first_refusal_p50_s"] = round(statistics.median(refused), 3)
        result["first_refusal_p99_s"] = round(refused[int(0.99 * (len(refused) - 1))], 3)
        result["latest_acceptance_s"] = max((s.accepted_after or 0.0) for s in judged)
        result["accepted_at_all_after_revocation"] = sum(
            s.accepted_after is not None for s in judged)
    result["skipped_instance_down"] = len(log.samples) - len(judged)
    return result


def throughput(requests: list[Request], end: float) -> list[int]:
    """Answers served per second (no 5xx, no lost answer), probes excluded."""
    bins = [0] * (int(end) + 1)
    for r in requests:
        if r.actor != "prober" and 0 < r.status < 500 and 0 <= r.t < len(bins):
            bins[int(r.t)] += 1
    return bins


def steady_rate(bins: list[int], faults: list[Fault], warmup: float) -> float:
    quiet = [n for second, n in enumerate(bins[:-1]) if second >= warmup and not any(
        f.start - 1 <= second <= (f.end if f.end >= 0 else len(bins)) + SLACK for f in faults)]
    return float(statistics.median(quiet)) if quiet else 0.0


def recovery(log: EventLog, end: float, limits: Limits) -> dict[str, Any]:
    """Each fault: seconds from its end until a whole second serves the steady rate again."""
    bins = throughput(log.requests, end)
    level = steady_rate(bins, log.faults, limits.warmup)
    broken, per_fault = [], []
    for f in log.faults:
        seconds: float | None = None
        for second in range(max(0, int(f.end)), len(bins) - 1):
            if bins[second] >= RECOVERED * level:
                seconds = max(0.0, second - f.end)
                break
        per_fault.append({"kind": f.kind, "start": round(f.start, 2), "end": round(f.end, 2),
                          "recovery_s": None if seconds is None else round(seconds, 2),
                          "detail": f.detail})
        if seconds is None or seconds > RECOVERY_BOUND:
            broken.append(f"{f.kind} at t={f.start:.1f}s: "
                          + ("never back to level" if seconds is None else f"{seconds:.1f}s"))
    result = _tally(broken, len(log.faults))
    result.update(steady_rps=level, faults=per_fault)
    return result


def rss(log: EventLog, limits: Limits) -> dict[str, Any]:
    """Each worker that lived long enough: RSS at the end over RSS after its warm-up."""
    by_pid: dict[tuple[str, int], list[tuple[float, int]]] = {}
    for s in log.rss:
        by_pid.setdefault((s.instance, s.pid), []).append((s.t, s.kb))
    broken, workers = [], []
    for (instance, pid), points in sorted(by_pid.items()):
        born = points[0][0]
        after = [p for p in points if p[0] >= born + limits.rss_warmup]
        if not after or after[-1][0] - after[0][0] < limits.rss_span:
            continue
        base, last = after[0][1], statistics.median(kb for _, kb in after[-3:])
        growth = last / base - 1
        workers.append({"instance": instance, "pid": pid, "baseline_kb": base,
                        "final_kb": last, "growth": round(growth, 4),
                        "span_s": round(after[-1][0] - after[0][0], 1)})
        if growth >= RSS_GROWTH:
            broken.append(f"worker {pid} of {instance}: {base} KiB -> {last} KiB "
                          f"(+{growth:.1%})")
    result = _tally(broken, len(workers))
    result["workers"] = workers
    return result


CHECKED = ("grace_same_pair", "session_kept", "forged_or_reused_refused", "consistency")


def evaluate(log: EventLog, end: float, limits: Limits | None = None) -> dict[str, Any]:
    """Every invariant's verdict, and whether the run is green."""
    limits = limits or Limits()
    errors, allowed = server_errors(log)
    verdicts: dict[str, Any] = {"no_5xx_outside_outage": errors}
    for name in CHECKED:
        verdicts[name] = from_checks(log, name)
    verdicts["revocation_within_1s"] = revocation(log)
    verdicts["rss_growth_below_10pct"] = rss(log, limits)
    verdicts["throughput_back_within_5s"] = recovery(log, end, limits)
    return {"ok": all(v["broken"] == 0 for v in verdicts.values()),
            "allowed_errors": allowed, "invariants": verdicts}
