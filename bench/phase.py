"""The measured routes, and one server run's measurements with the floors around them."""

from __future__ import annotations

import argparse
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
    "floor": Route("GET", "/healthz", "bearer.lua", "trivial route, same headers"),
    "check": Route("GET", "/auth/check", "bearer.lua", "warm: real logins' tokens"),
    "check-cold": Route("GET", "/auth/check", "bearer.lua", "cache misses"),
    "me": Route("GET", "/auth/me", "bearer.lua", "real logins' tokens"),
    "refresh": Route("POST", "/auth/refresh", "refresh.lua", "rotating"),
    "oauth-token": Route("POST", "/oauth/token", "refresh.lua", "grant_type=refresh_token"),
    "login": Route("POST", "/auth/login", "login.lua", "hashes at the server's cost"),
}


class Phase:
    """One server run: routes measured one after another, each between two floors.

    A route's ratio is to the mean of the floors measured right before and right after
    it (with --no-interleave, of the first and last floor of the server run).
    """

    def __init__(self, server: Server, options: argparse.Namespace, rounds: int,
                 floor_args: list[str]) -> None:
        self.server, self.options, self.rounds = server, options, rounds
        self.floor_args = floor_args
        self.rows: list[dict[str, Any]] = []
        self.floors: list[tuple[int, Load]] = []  # (routes measured before it, load)
        self.floor()

    def _load(self, name: str, args: list[str], duration: float, connections: int,
              warmup: float, timeout: float) -> Load:
        route = ROUTES[name]
        url = self.server.base + route.path
        if warmup > 0:
            loadgen.run_wrk(url, route.script, args, warmup, connections, timeout)
            self.server.settle()
        load = loadgen.run_wrk(url, route.script, args, duration, connections, timeout)
        self.server.settle()  # requests still queued in the server must not slow the next run
        print(f"  cost {self.rounds:>2} {name:<12} {load.ok_rps:9.1f} req/s (2xx)  "
              f"p50 {load.p50_ms} ms  p99 {load.p99_ms} ms  non-2xx {load.non2xx}", flush=True)
        return load

    def floor(self) -> None:
        """The trivial route, with the same script and headers as the protected ones."""
        options = self.options
        # A fresh server's first seconds run slower: warm the first floor three times longer.
        warmup = options.warmup * (1 if self.floors else 3)
        load = self._load("floor", self.floor_args, options.duration, options.connections,
                          warmup, 10)
        self.floors.append((len(self.rows), load))

    def measure(self, name: str, args: list[str], *, duration: float | None = None,
                connections: int | None = None, warmup: float | None = None,
                timeout: float = 10, note: str = "") -> Load:
        """Warm up, then measure one route; keep its row; then the floor again."""
        route, options = ROUTES[name], self.options
        connections = connections or options.connections
        load = self._load(name, args, duration or options.duration, connections,
                          options.warmup if warmup is None else warmup, timeout)
        self.rows.append({"route": name, "method": route.method, "path": route.path,
                          "bcrypt_rounds": self.rounds, "connections": connections,
                          **load.as_dict(), "note": note or route.about})
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
                          "path": route.path, "note": f"{route.path} is not routed (404/405)"})
        print(f"  {name}: n/a, not routed", flush=True)

    def _around(self, index: int) -> list[Load]:
        before = [load for seen, load in self.floors if seen <= index][-1:]
        after = [load for seen, load in self.floors if seen > index][:1]
        return before + after

    def finish(self) -> list[dict[str, Any]]:
        """A summary floor row, and each route's ratio to its floors (and to raw bcrypt)."""
        if self.floors[-1][0] < len(self.rows):
            self.floor()
        for index, row in enumerate(self.rows):
            if row.get("status") == "n/a":
                continue
            around = [load.ok_rps for load in self._around(index)]
            row["floor_ok_rps"] = [round(rps, 1) for rps in around]
            mean = sum(around) / len(around)
            row["ratio_to_floor"] = round(row["ok_rps"] / mean, 3) if mean else None
            if row.get("bcrypt_rate"):
                row["ratio_to_bcrypt"] = round(row["ok_rps"] / row["bcrypt_rate"], 3)
                row["note"] += f", raw {row['bcrypt_rate']:,.2f}/s"
        loads = [load for _, load in self.floors]
        rates = [load.ok_rps for load in loads]
        floor = {"route": "floor", "method": "GET", "path": ROUTES["floor"].path,
                 "bcrypt_rounds": self.rounds, "connections": self.options.connections,
                 **_median_load(loads).as_dict(), "ok_rps": round(sum(rates) / len(rates), 1),
                 "ratio_to_floor": 1.0, "runs": [load.as_dict() for load in loads],
                 "note": f"mean of {len(loads)}, {min(rates):,.0f}-{max(rates):,.0f} req/s"}
        return [floor, *self.rows]


def _median_load(loads: list[Load]) -> Load:
    return sorted(loads, key=lambda load: load.ok_rps)[len(loads) // 2]
