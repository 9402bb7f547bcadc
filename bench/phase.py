"""The measured routes, and one round of a server run with the bare-Flask floor around each."""

from __future__ import annotations

import argparse
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import loadgen
import seed
from loadgen import Load, Server

BASE_ROUNDS = 4  # the main server run: cheap logins, so tokens can be pre-issued quickly


@dataclass(frozen=True)
class Route:
    """A measured route: its request, its wrk script, and what the numbers mean."""

    method: str
    path: str
    script: str
    about: str


ROUTES = {
    "healthz": Route("GET", "/healthz", "bearer.lua", "authapi's trivial route, same headers"),
    "check": Route("GET", "/auth/check", "bearer.lua", "warm: real logins' tokens"),
    # RFC 9470 step-up: the same tokens, with a level and a freshness they meet (issue 22
    # asks it to cost at most 5 % over plain `check`).
    "check-acr": Route("GET", "/auth/check?acr=pwd&max_age=86400", "bearer.lua",
                       "warm, with acr and max_age"),
    # A DPoP-bound token with a fresh ES256 proof on every request (issue 23: at most
    # 2x the CPU of a bearer check, which `cpu_to_check` gives).
    "check-dpop": Route("GET", "/auth/check", "dpop.lua", "DPoP: a proof of its own each"),
    "check-cold": Route("GET", "/auth/check", "bearer.lua", "cache misses"),
    "me": Route("GET", "/auth/me", "bearer.lua", "real logins' tokens"),
    "refresh": Route("POST", "/auth/refresh", "refresh.lua", "rotating"),
    "oauth-token": Route("POST", "/oauth/token", "refresh.lua", "grant_type=refresh_token"),
    # A service (client_secret_basic): a token, and introspecting one (issue 23's table).
    "client-credentials": Route("POST", "/oauth/token", "oauth_form.lua",
                                "grant_type=client_credentials"),
    "introspect": Route("POST", "/oauth/introspect", "oauth_form.lua", "an active token"),
    "login": Route("POST", "/auth/login", "login.lua", "hashes at the server's cost"),
}
# The floor: bench/bare_app.py's one JSON route, under authapi's gunicorn command line.
BARE = Route("GET", "/healthz", "bearer.lua", "bare Flask app, same headers")
# Per-round values that are combined as medians across rounds.
MEDIANS = ("rps", "ok_rps", "p50_ms", "p99_ms", "ratio_to_bare", "ratio_to_healthz",
           "cpu_us_per_request", "bcrypt_rate", "ratio_to_bcrypt", "cpu_to_check")


class Phase:
    """One round on one authapi server run: authapi's /healthz first, then the routes,
    one after another, with the bare-Flask floor before the first and after every one.

    A route's × bare is its req/s over the mean of the bare floors measured right before
    and right after it (with --no-interleave, the first and last bare floor of the round).
    Its × /healthz is its × bare over the × bare of authapi's /healthz in the same round:
    both are taken against the same floor, so the drift between them cancels out.
    """

    def __init__(self, server: Server, bare: Server, options: argparse.Namespace, rounds: int,
                 round_no: int, floor_args: list[str]) -> None:
        self.server, self.bare, self.options, self.rounds = server, bare, options, rounds
        self.round_no, self.floor_args = round_no, floor_args
        self.rows: list[dict[str, Any]] = []
        # (routes measured before it, load, server CPU µs per request)
        self.floors: list[tuple[int, Load, float | None]] = []
        self.floor()
        self.measure("healthz", floor_args)

    def _load(self, server: Server, route: Route, name: str, args: list[str], duration: float,
              connections: int, warmup: float, timeout: float) -> tuple[Load, float | None]:
        url = server.base + route.path
        if not server.warmed:  # a fresh server's first seconds run slower: warm it longer
            warmup, server.warmed = warmup * 3, True
        if warmup > 0:
            loadgen.run_wrk(url, route.script, args, warmup, connections, timeout)
            server.settle()
        pids, cpu_before = server.cpu_seconds()
        load = loadgen.run_wrk(url, route.script, args, duration, connections, timeout)
        pids_after, cpu_after = server.cpu_seconds()
        cpu_us = (round((cpu_after - cpu_before) / load.requests * 1e6, 1)
                  if pids and pids == pids_after and load.requests else None)
        server.settle()  # requests still queued in the server must not slow the next run
        print(f"  round {self.round_no} cost {self.rounds:>2} {name:<12} {load.ok_rps:9.1f} "
              f"req/s (2xx)  cpu {cpu_us} us/req  p50 {load.p50_ms} ms  p99 {load.p99_ms} ms  "
              f"non-2xx {load.non2xx}", flush=True)
        return load, cpu_us

    def floor(self) -> None:
        """The bare Flask app, with the same script and headers as the protected routes."""
        options = self.options
        load, cpu_us = self._load(self.bare, BARE, "bare", self.floor_args, options.duration,
                                  options.connections, options.warmup, 10)
        self.floors.append((len(self.rows), load, cpu_us))

    def measure(self, name: str, args: list[str], *, duration: float | None = None,
                connections: int | None = None, warmup: float | None = None,
                timeout: float = 10, note: str = "") -> Load:
        """Warm up, then measure one authapi route; keep its row; then the floor again."""
        route, options = ROUTES[name], self.options
        connections = connections or options.connections
        load, cpu_us = self._load(self.server, route, name, args, duration or options.duration,
                                  connections, options.warmup if warmup is None else warmup,
                                  timeout)
        self.rows.append({"route": name, "method": route.method, "path": route.path,
                          "bcrypt_rounds": self.rounds, "connections": connections,
                          "round": self.round_no, **load.as_dict(),
                          "cpu_us_per_request": cpu_us, "note": note or route.about})
        if options.interleave:
            self.floor()
        return load

    def login(self, emails: Path, **kwargs: Any) -> None:
        """Logins, between two timings of raw bcrypt at the same cost on the same core."""
        before = loadgen.bcrypt_rate(self.rounds)
        self.measure("login", [str(emails), seed.PASSWORD], **kwargs)
        row = self.rows[-1]
        row["bcrypt_rates"] = [round(before, 2), round(loadgen.bcrypt_rate(self.rounds), 2)]
        row["bcrypt_rate"] = round(sum(row["bcrypt_rates"]) / 2, 2)

    def not_routed(self, name: str) -> None:
        """A route the server does not have yet."""
        route = ROUTES[name]
        self.rows.append({"route": name, "status": "n/a", "method": route.method,
                          "path": route.path, "round": self.round_no,
                          "note": f"{route.path} is not routed (404/405)"})
        print(f"  {name}: n/a, not routed", flush=True)

    def _around(self, index: int) -> list[Load]:
        before = [load for seen, load, _ in self.floors if seen <= index][-1:]
        after = [load for seen, load, _ in self.floors if seen > index][:1]
        return before + after

    def finish(self) -> list[dict[str, Any]]:
        """A summary row of the bare floors, and each route's ratios to them (and to
        authapi's /healthz, and to raw bcrypt)."""
        if self.floors[-1][0] < len(self.rows):
            self.floor()
        for index, row in enumerate(self.rows):
            if row.get("status") == "n/a":
                continue
            around = [load.ok_rps for load in self._around(index)]
            row["bare_ok_rps"] = [round(rps, 1) for rps in around]
            mean = sum(around) / len(around)
            row["ratio_to_bare"] = round(row["ok_rps"] / mean, 3) if mean else None
        healthz = self.rows[0].get("ratio_to_bare")
        for row in self.rows:
            if row.get("ratio_to_bare") is not None and healthz:
                row["ratio_to_healthz"] = round(row["ratio_to_bare"] / healthz, 3)
            if row.get("bcrypt_rate"):
                row["ratio_to_bcrypt"] = round(row["ok_rps"] / row["bcrypt_rate"], 3)
                row["note"] += f", raw {row['bcrypt_rate']:,.2f}/s"
        cpu = {row["route"]: row.get("cpu_us_per_request") for row in self.rows}
        for row in self.rows:  # DPoP's cost is stated against a bearer check (issue 23)
            if row["route"] == "check-dpop" and cpu.get("check") and row.get(
                    "cpu_us_per_request"):
                row["cpu_to_check"] = round(row["cpu_us_per_request"] / cpu["check"], 3)
        loads = [load for _, load, _ in self.floors]
        cpus = [cpu for _, _, cpu in self.floors if cpu is not None]
        rates = [load.ok_rps for load in loads]
        floor = {"route": "bare", "method": "GET", "path": BARE.path,
                 "bcrypt_rounds": self.rounds, "connections": self.options.connections,
                 "round": self.round_no, **_median_load(loads).as_dict(),
                 "ok_rps": round(sum(rates) / len(rates), 1),
                 "cpu_us_per_request": round(sum(cpus) / len(cpus), 1) if cpus else None,
                 "ratio_to_bare": 1.0,
                 "ratio_to_healthz": round(1 / healthz, 3) if healthz else None,
                 "runs": [{**load.as_dict(), "cpu_us_per_request": cpu}
                          for _, load, cpu in self.floors],
                 "note": f"bare Flask: mean of {len(loads)}, "
                         f"{min(rates):,.0f}-{max(rates):,.0f} req/s"}
        return [floor, *self.rows]


def _median_load(loads: list[Load]) -> Load:
    return sorted(loads, key=lambda load: load.ok_rps)[len(loads) // 2]


def combine(per_round: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """One row per route and server cost: the median of each value across rounds; the
    rows of every round are kept under "rounds"."""
    groups: dict[tuple[str, Any], list[dict[str, Any]]] = {}
    for rows in per_round:
        for row in rows:
            groups.setdefault((row["route"], row.get("bcrypt_rounds")), []).append(row)
    combined = []
    for rows in groups.values():
        first = rows[0]
        if first.get("status") == "n/a":
            combined.append({key: value for key, value in first.items() if key != "round"})
            continue
        row = {key: first[key] for key in ("route", "method", "path", "bcrypt_rounds",
                                           "connections")}
        for name in MEDIANS:
            values = [r[name] for r in rows if r.get(name) is not None]
            if any(name in r for r in rows):
                row[name] = round(statistics.median(values), 3) if values else None
        for name in ("requests", "non2xx", "socket_errors"):
            row[name] = sum(r[name] for r in rows)
        statuses: dict[str, int] = {}
        for r in rows:
            for status, count in r.get("statuses", {}).items():
                statuses[status] = statuses.get(status, 0) + count
        row["statuses"] = statuses
        if first["route"] == "bare":
            runs = [run["ok_rps"] for r in rows for run in r["runs"]]
            row["note"] = (f"bare Flask: {len(runs)} runs, "
                           f"{min(runs):,.0f}-{max(runs):,.0f} req/s")
        else:
            row["note"] = first["note"]
        if row.get("cpu_to_check") is not None:
            row["note"] += f", CPU {row['cpu_to_check']:.2f}x a bearer check"
        if len(rows) > 1 and first["route"] != "bare":
            row["note"] += "; × bare per round " + " ".join(
                _number(r.get("ratio_to_bare")) for r in rows)
        row["rounds"] = rows
        combined.append(row)
    return combined


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"
