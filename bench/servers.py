"""gunicorn against granian (issue 23 item 6): each serving the bare Flask app and authapi.

    python bench/servers.py --duration 5 --rounds 3 [--workers 1 2]

For each worker count, four servers, each pinned to core 0 with wrk on core 1, the
same wrk script and headers (bench/lua/bearer.lua, a real access token):
- gunicorn + bench/bare_app.py (`GET /healthz`): authapi's exact gunicorn command line
  (`authapi serve`, read from /proc) with the module swapped, as run.py's floor;
- gunicorn + authapi (`GET /auth/check`), started by `authapi serve`;
- granian (`--interface wsgi`, its defaults otherwise) + the bare app, and + authapi.
The servers take turns every round; each row is the median req/s over the rounds and
its ratio to gunicorn serving the bare app. The question it answers: does granian
serving authapi beat gunicorn serving the bare app on /auth/check?
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import loadgen
import seed
from loadgen import BENCH, SERVER_CPU, BareServer, Server

SETTINGS = {"AUTHAPI_LOGIN_RATE_PER_ADDRESS": "1000000 per minute", "AUTHAPI_BCRYPT_ROUNDS": "4"}


class Granian(Server):
    """granian's WSGI interface on core 0, serving `module`."""

    def __init__(self, env: dict[str, str], workers: int, log_path: Path, module: str,
                 name: str) -> None:
        pythonpath = os.pathsep.join(filter(None, [str(BENCH), env.get("PYTHONPATH", "")]))
        super().__init__({**env, "PYTHONPATH": pythonpath}, workers, log_path)
        self.module, self.name = module, name

    def command(self) -> list[str]:
        """granian with its defaults, but no access log (gunicorn runs without one too)."""
        return ["taskset", "-c", SERVER_CPU, sys.executable, "-m", "granian", "--interface",
                "wsgi", "--workers", str(self.workers), "--host", "127.0.0.1",
                "--port", str(self.port), "--no-log", self.module]

    def worker_pids(self) -> list[int]:
        """Any child counts as up (granian's workers are the master's children)."""
        return super().worker_pids()


def measure(server: Server, path: str, tokens: Path, duration: float) -> float:
    """req/s of 2xx answers over `duration`, after a warm-up."""
    loadgen.run_wrk(server.base + path, "bearer.lua", [str(tokens)], 2, 16, 5)
    server.settle()
    return loadgen.run_wrk(server.base + path, "bearer.lua", [str(tokens)], duration, 16,
                           5).ok_rps


def main() -> None:
    """Seed, then measure the four servers per worker count, in turns."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="authapi-servers-") as tmp:
        work = Path(tmp)
        database = seed.prepare("sqlite", 1_000, work, users_per_cost=2)
        env = {**database.env, **SETTINGS}
        rows: list[tuple[int, str, str, float]] = []
        for workers in options.workers:
            samples: dict[str, list[float]] = {}
            for _round in range(options.rounds):
                with Server(env, workers, work / "gunicorn-authapi.log") as authapi:
                    pair = authapi.login(seed.email(4, 0), seed.PASSWORD)
                    tokens = work / "tokens.txt"
                    tokens.write_text(pair["access_token"] + "\n")
                    with BareServer(authapi, work / "gunicorn-bare.log") as bare:
                        samples.setdefault("gunicorn bare /healthz", []).append(
                            measure(bare, "/healthz", tokens, options.duration))
                    samples.setdefault("gunicorn authapi /auth/check", []).append(
                        measure(authapi, "/auth/check", tokens, options.duration))
                for module, path, label in (("bare_app:app", "/healthz", "granian bare /healthz"),
                                            ("authapi.wsgi:app", "/auth/check",
                                             "granian authapi /auth/check")):
                    with Granian(env, workers, work / "granian.log", module, label) as server:
                        samples.setdefault(label, []).append(
                            measure(server, path, tokens, options.duration))
            floor = statistics.median(samples["gunicorn bare /healthz"])
            for label, values in samples.items():
                rows.append((workers, label, ", ".join(f"{v:.0f}" for v in values),
                             statistics.median(values) / floor))
                print(f"workers {workers}  {label:<30} median {statistics.median(values):8.1f} "
                      f"req/s  {statistics.median(values) / floor:.2f}x", flush=True)
    print("\n| workers | server and route | req/s per round | × gunicorn bare |")
    print("|--:|---|---|--:|")
    for workers, label, values, ratio in rows:
        print(f"| {workers} | {label} | {values} | {ratio:.2f} |")
    subprocess.run(["uptime"], check=False)


if __name__ == "__main__":
    main()
