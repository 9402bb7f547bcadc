"""The soak harness's judge (bench/soak/checks.py) on synthetic event logs: it must see a
broken invariant, and must not see one where the rules allow an error.

The soak itself runs in .ci/run as its own phase (`python -m bench.soak --short`), not
here: it starts its own PostgreSQL, Redis, nginx and four workers.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository: bench/
checks = importlib.import_module("bench.soak.checks")
events = importlib.import_module("bench.soak.events")

END = 60.0


def steady_log(rate: int = 20) -> events.EventLog:
    """A minute of healthy answers at `rate` per second, through nginx."""
    log = events.EventLog()
    log.requests = [events.Request(second + i / rate, "user", "GET /auth/check", "nginx", 200,
                                   "", 5.0) for second in range(int(END)) for i in range(rate)]
    return log


def add(log: events.EventLog, t: float, status: int, code: str = "",
        target: str = "nginx") -> None:
    log.requests.append(events.Request(t, "user", "POST /auth/refresh", target, status, code, 9))


def test_a_clean_log_is_green():
    verdict = checks.evaluate(steady_log(), END)
    assert verdict["ok"], verdict
    assert verdict["invariants"]["throughput_back_within_5s"]["steady_rps"] == 20


def test_a_500_outside_an_outage_is_a_broken_invariant():
    log = steady_log()
    add(log, 30.0, 500, "internal_error")
    verdict = checks.evaluate(log, END)
    assert not verdict["ok"]
    broken = verdict["invariants"]["no_5xx_outside_outage"]
    assert broken["broken"] == 1
    assert "500 internal_error" in broken["examples"][0]


def test_a_503_service_unavailable_inside_a_database_outage_is_allowed():
    log = steady_log()
    log.faults.append(events.Fault("pg_stop", 20.0, 30.0))
    add(log, 25.0, 503, "service_unavailable")
    add(log, 33.0, 503, "service_unavailable")  # within the slack after the restart
    verdict = checks.evaluate(log, END)
    assert verdict["invariants"]["no_5xx_outside_outage"]["broken"] == 0
    assert verdict["allowed_errors"] == {"503 in an outage": 2}


@pytest.mark.parametrize(("fault", "t", "status", "code"), [
    (None, 25.0, 503, "service_unavailable"),       # no outage at all
    ("pg_stop", 45.0, 503, "service_unavailable"),  # long after it ended
    ("pg_stop", 25.0, 500, "internal_error"),       # the wrong 5xx inside it
])
def test_errors_outside_their_window_are_broken(fault, t, status, code):
    log = steady_log()
    if fault:
        log.faults.append(events.Fault(fault, 20.0, 30.0))
    add(log, t, status, code)
    assert checks.evaluate(log, END)["invariants"]["no_5xx_outside_outage"]["broken"] == 1


@pytest.mark.parametrize("status", [0, 502, 503])
def test_a_lost_answer_inside_a_kill_is_allowed(status):
    log = steady_log()
    log.faults.append(events.Fault("worker_kill", 20.0, 20.5))
    add(log, 20.2, status, "service_unavailable" if status == 503 else "")
    verdict = checks.evaluate(log, END)
    assert verdict["invariants"]["no_5xx_outside_outage"]["broken"] == 0
    assert sum(verdict["allowed_errors"].values()) == 1


def test_a_lost_answer_outside_a_kill_is_broken():
    log = steady_log()
    add(log, 30.0, 0)
    assert checks.evaluate(log, END)["invariants"]["no_5xx_outside_outage"]["broken"] == 1


def test_a_revoked_token_accepted_after_a_second_is_broken():
    log = steady_log()
    log.samples = [events.Sample(10.0, "logout", "a", 0.05, None),
                   events.Sample(11.0, "logout", "b", 1.6, accepted_after=1.4),
                   events.Sample(12.0, "disable", "b", None, accepted_after=2.9),
                   events.Sample(13.0, "roles", "a", None, None, skipped=True)]
    verdict = checks.evaluate(log, END)["invariants"]["revocation_within_1s"]
    assert (verdict["checked"], verdict["broken"], verdict["skipped_instance_down"]) == (3, 2, 1)


def test_a_failed_check_breaks_its_invariant():
    log = steady_log()
    log.check("grace_same_pair", True)
    log.check("grace_same_pair", False, "pairs differ")
    verdict = checks.evaluate(log, END)
    assert not verdict["ok"]
    assert verdict["invariants"]["grace_same_pair"]["broken"] == 1


def test_memory_growth_over_ten_percent_is_broken():
    log = steady_log()
    for t in range(0, 60, 2):
        log.rss.append(events.Rss(float(t), "a", 101, 100_000))
        log.rss.append(events.Rss(float(t), "a", 102, 100_000 + 1_000 * t))
    verdict = checks.evaluate(log, END)["invariants"]["rss_growth_below_10pct"]
    assert (verdict["checked"], verdict["broken"]) == (2, 1)


def test_throughput_that_does_not_come_back_is_broken():
    log = steady_log()
    log.faults.append(events.Fault("redis_stop", 20.0, 30.0))
    log.requests = [r for r in log.requests if not 20 <= r.t < 40]  # back 10 s late
    verdict = checks.evaluate(log, END)["invariants"]["throughput_back_within_5s"]
    assert verdict["broken"] == 1
    assert verdict["faults"][0]["recovery_s"] == 10.0
