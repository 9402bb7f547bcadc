"""Faults on a schedule, each recorded with when it started and when the system was whole."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from .events import EventLog, Fault
from .infra import AUTHAPI, Instance, Postgres, Redis, wait_until

OUTAGE_SECONDS = 10.0
# nginx's passive health check (max_fails=1 fail_timeout=10s, the defaults deploy/nginx.conf
# keeps) leaves a replica that failed a request out of rotation for 10 s after it is back.
# Restarting the second replica sooner leaves nginx no live upstream: an operator waits.
NGINX_FAIL_TIMEOUT = 10.0


def short_schedule() -> list[tuple[float, str]]:
    """One fault of each kind in about a minute (the CI form)."""
    return [(10, "worker_kill"), (16, "instance_kill"), (24, "pg_stop"), (41, "redis_stop"),
            (57, "key_rotate"), (61, "rolling_restart")]


def long_schedule(duration: float, period: float = 300.0) -> list[tuple[float, str]]:
    """A cycle of faults every `period` seconds. The rolling restart runs once, in the
    first cycle, so the workers it starts live long enough to judge their memory."""
    out: list[tuple[float, str]] = []
    start = 60.0
    while start + 200 < duration:
        out += [(start, "worker_kill"), (start + 30, "instance_kill"), (start + 60, "pg_stop"),
                (start + 120, "redis_stop"), (start + 180, "key_rotate")]
        if not any(kind == "rolling_restart" for _, kind in out):
            out.append((start + 240, "rolling_restart"))
        start += period
    return out


@dataclass
class Targets:
    a: Instance
    b: Instance
    pg: Postgres
    redis: Redis
    env: dict[str, str]


def _respawned(instance: Instance, killed: int) -> Callable[[], bool]:
    return lambda: (killed not in instance.worker_pids()
                    and len(instance.worker_pids()) >= instance.workers)


def inject(kind: str, t: Targets) -> str:
    """Do one fault and return once the system is whole again; a line about it."""
    if kind == "worker_kill":
        pid = t.a.kill_worker()
        wait_until(_respawned(t.a, pid), 60, "a respawned worker")
        return f"SIGKILL worker {pid} of instance a"
    if kind == "instance_kill":
        t.b.kill()
        time.sleep(1.0)
        t.b.start()
        return "SIGKILL instance b (master and workers), restarted after 1 s"
    if kind == "pg_stop":
        t.pg.stop()
        time.sleep(OUTAGE_SECONDS)
        t.pg.start()
        return f"PostgreSQL stopped (fast) for {OUTAGE_SECONDS:.0f} s"
    if kind == "redis_stop":
        t.redis.stop()
        time.sleep(OUTAGE_SECONDS)
        t.redis.start()
        return f"Redis killed for {OUTAGE_SECONDS:.0f} s"
    if kind == "key_rotate":
        done = subprocess.run([AUTHAPI, "keys", "rotate"], env=t.env, capture_output=True,
                              text=True, timeout=120, check=True)
        return f"authapi keys rotate: {done.stdout.strip()}"
    if kind == "rolling_restart":
        t.a.stop()
        t.a.start()
        time.sleep(NGINX_FAIL_TIMEOUT + 1)
        t.b.stop()
        t.b.start()
        return (f"SIGTERM and start a, {NGINX_FAIL_TIMEOUT + 1:.0f} s for nginx to take it "
                "back, then b (no migration)")
    raise ValueError(kind)


def run_schedule(log: EventLog, schedule: list[tuple[float, str]], t: Targets,
                 stop: threading.Event) -> None:
    for at, kind in schedule:
        if stop.wait(max(0.0, at - log.now())):
            return
        fault = Fault(kind, log.now())
        log.faults.append(fault)
        try:
            fault.detail = inject(kind, t)
        except Exception as exc:  # noqa: BLE001  (recorded: a fault the harness could not do)
            fault.detail = f"harness error: {exc!r}"
            log.check("consistency", False, f"fault {kind} could not be injected: {exc!r}")
        fault.end = log.now()
        print(f"soak: t={fault.start:6.1f}s {kind}: {fault.detail} "
              f"(whole again after {fault.end - fault.start:.1f} s)", flush=True)
