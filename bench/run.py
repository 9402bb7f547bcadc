"""Drive authapi with wrk: each route as a ratio to a bare Flask app measured around it.

    python bench/run.py --db sqlite --rows 100000 --workers 1 --duration 10
    python bench/run.py --db postgres --rounds 2 --routes check me refresh
    python bench/run.py --smoke            # 2-second sanity run, for CI

See bench/README.md for what is measured and how to read the table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import loadgen
import report
import seed
from loadgen import BareServer, Server
from phase import BASE_ROUNDS, ROUTES, Phase, combine
from prover import Prover

ROOT = Path(__file__).resolve().parents[1]
# The per-address login limit would turn a login benchmark into a 429 benchmark.
SERVER_SETTINGS = {"AUTHAPI_LOGIN_RATE_PER_ADDRESS": "1000000 per minute"}
MEASURED = [name for name in ROUTES if name != "healthz"]
# More requests per second than one core serves a DPoP check at: proofs to sign per second.
DPOP_RATE = 4000


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--rows", type=int, default=100_000,
                        help="revoked tokens, and sessions (half of them revoked), to seed")
    parser.add_argument("--workers", type=int, default=1, help="gunicorn workers (on one core)")
    parser.add_argument("--duration", type=float, default=10, help="seconds per route")
    parser.add_argument("--warmup", type=float, default=1, help="unrecorded seconds first")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--no-interleave", dest="interleave", action="store_false",
                        help="measure the bare floor only first and last in each round, "
                             "not around every route")
    parser.add_argument("--routes", nargs="+", choices=MEASURED, default=MEASURED,
                        help="the bare floor and authapi's /healthz are always measured")
    parser.add_argument("--rounds", type=int, default=1,
                        help="run the whole interleaved sequence this many times; the table "
                             "shows the median per route")
    parser.add_argument("--login-rounds", type=int, nargs="+", default=[12, BASE_ROUNDS],
                        help="bcrypt costs to serve the login route at")
    parser.add_argument("--login-duration", type=float, default=20,
                        help="seconds for logins at a cost above 4 (a cost-12 hash takes 0.3 s+)")
    parser.add_argument("--algorithm", default=os.environ.get("AUTHAPI_JWT_ALGORITHM", "RS256"))
    parser.add_argument("--sessions", type=int, default=64,
                        help="real logins whose access tokens /auth/check and /auth/me cycle")
    parser.add_argument("--refresh-pool", type=int, default=128,
                        help="real logins whose refresh tokens start each rotating pool")
    parser.add_argument("--cold-tokens", type=int, default=None,
                        help="distinct seeded sessions for check-cold (default: 1000/s)")
    parser.add_argument("--pg-admin-url", default=seed.PG_ADMIN_URL)
    parser.add_argument("--out", type=Path, help="JSON file (default: bench/results/...)")
    parser.add_argument("--smoke", action="store_true",
                        help="2 s per route on a tiny database; exit 1 unless every ratio "
                             "was computed (never judges the values)")
    options = parser.parse_args(argv)
    if options.smoke:
        options.rows, options.duration, options.warmup = min(options.rows, 2000), 2, 0
        options.login_rounds, options.sessions, options.refresh_pool = [BASE_ROUNDS], 16, 48
        options.cold_tokens = 300
    if options.cold_tokens is None:
        options.cold_tokens = min(20_000, int(1000 * options.duration))
    name = f"smoke-{options.db}" if options.smoke else (
        f"{options.db}-{options.rows}-w{options.workers}")
    options.out = options.out or ROOT / "bench" / "results" / f"{name}.json"
    return options


def git_state() -> tuple[str, bool]:
    """The commit, and whether src/ (the migrations included) differs from it."""
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True,
                              check=False).stdout.strip()

    return git("rev-parse", "HEAD") or "unknown", bool(git("status", "--porcelain", "--", "src"))


def write_lines(path: Path, lines: list[str]) -> Path:
    """A file with one value per line, for the wrk scripts."""
    path.write_text("\n".join(lines) + "\n")
    return path


def dpop_args(server: Server, options: argparse.Namespace, work: Path, round_no: int
              ) -> list[str]:
    """dpop.lua's arguments: a file of proofs, each used once, and the DPoP-bound access
    token of a real login with a proof, all by one new key. There are enough proofs for
    the warm-up and the measured run at DPOP_RATE; each is signed now, well within the
    minute that the server accepts a proof's `iat` for."""
    prover = Prover()
    token = server.login(seed.email(BASE_ROUNDS, 0),
                         proof=prover.proof("POST", "/auth/login"))["access_token"]
    count = int((options.duration + 3 * options.warmup + 1) * DPOP_RATE)
    path = write_lines(work / f"proofs-{round_no}.txt",
                       [prover.proof("GET", ROUTES["check-dpop"].path, token)
                        for _ in range(count)])
    return [str(path), token]


def main_round(server: Server, bare: Server, options: argparse.Namespace, work: Path,
               access: Path, cold_tokens: list[str], round_no: int) -> list[dict[str, Any]]:
    """One round of every route but slow logins, on a server hashing at cost 4."""
    fast_users = [seed.email(BASE_ROUNDS, k) for k in range(seed.USERS_PER_COST)]
    phase = Phase(server, bare, options, BASE_ROUNDS, round_no, [str(access)])
    routes = options.routes
    if "check" in routes:
        phase.measure("check", [str(access)])
    if "check-acr" in routes:
        phase.measure("check-acr", [str(access)])
    if "check-cold" in routes and cold_tokens:
        cold = write_lines(work / f"cold-{round_no}.txt", cold_tokens)
        load = phase.measure("check-cold", [str(cold)], warmup=0)
        wrapped = ", wrapped: later ones hit" if load.requests > len(cold_tokens) else ""
        phase.rows[-1]["note"] += f": {len(cold_tokens):,} sessions{wrapped}"
    if "check-dpop" in routes:
        phase.measure("check-dpop", dpop_args(server, options, work, round_no))
    if "me" in routes:
        phase.measure("me", [str(access)])
    for name, mode in (("refresh", "header"), ("oauth-token", "form")):
        if name not in routes:
            continue
        if not server.route_exists(ROUTES[name].method, ROUTES[name].path):
            phase.not_routed(name)
            continue
        pool = server.login_many(fast_users, options.refresh_pool)
        tokens = write_lines(work / f"{name}.txt", [pair["refresh_token"] for pair in pool])
        phase.measure(name, [str(tokens), mode])
        left = len(tokens.read_text().split())
        phase.rows[-1]["note"] += f", pool {options.refresh_pool}, {left} left"
    if {"client-credentials", "introspect"} & set(routes):
        basic, token = server.service_client()
        if "client-credentials" in routes:
            phase.measure("client-credentials", [basic, "grant_type=client_credentials"])
        if "introspect" in routes:
            phase.measure("introspect", [basic, f"token={token}"])
    if "login" in routes and BASE_ROUNDS in options.login_rounds:
        emails = write_lines(work / f"emails-{BASE_ROUNDS}.txt", fast_users)
        phase.login(emails)
    return phase.finish()


def login_round(server: Server, bare: Server, options: argparse.Namespace, work: Path,
                rounds: int, round_no: int) -> list[dict[str, Any]]:
    """Logins on a server hashing at `rounds`, after its /healthz, between bare floors."""
    users = [seed.email(rounds, k) for k in range(seed.USERS_PER_COST)]
    access = work / "access.txt"  # the same headers as the main run's floors, if it ran
    phase = Phase(server, bare, options, rounds, round_no,
                  [str(access if access.exists() else write_lines(access, ["none"]))])
    emails = write_lines(work / f"emails-{rounds}.txt", users)
    phase.login(emails, warmup=0, timeout=120, connections=max(4, 2 * options.workers),
                duration=max(options.duration, options.login_duration))
    return phase.finish()


def preflight() -> None:
    """wrk and taskset, and two cores to pin them to."""
    for tool, package in (("wrk", "wrk"), ("taskset", "util-linux")):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is missing: apt-get install -y {package}")
    if len(os.sched_getaffinity(0)) < 2:
        raise SystemExit("need two cores: the server is pinned to core 0, wrk to core 1")


def run(options: argparse.Namespace) -> dict[str, Any]:
    """Seed, serve, load, and collect everything into one report."""
    started, load_before = time.time(), os.getloadavg()
    login_rounds = sorted(set(options.login_rounds)) if "login" in options.routes else []
    with tempfile.TemporaryDirectory(prefix="authapi-bench-") as tmp:
        work = Path(tmp)
        print(f"seeding {options.db} with {options.rows:,} rows ...", flush=True)
        database = seed.prepare(options.db, options.rows, work,
                                pg_admin_url=options.pg_admin_url)
        print(f"  {database.stats}", flush=True)
        env = {**database.env, **SERVER_SETTINGS, "AUTHAPI_JWT_ALGORITHM": options.algorithm}
        # Each round spends its own cold sessions: a second round must not find them cached.
        cold = (loadgen.mint_access_tokens(env, options.cold_tokens * options.rounds)
                if "check-cold" in options.routes else [])
        rows: list[dict[str, Any]] = []
        log = work / "server.log"
        commands: dict[str, list[str]] = {}
        with (Server({**env, "AUTHAPI_BCRYPT_ROUNDS": str(BASE_ROUNDS)}, options.workers,
                     log) as server, BareServer(server, log) as bare):
            commands = {"authapi": ["taskset", "-c", loadgen.SERVER_CPU, *bare.authapi_argv],
                        "bare": bare.command()}
            print("authapi: " + " ".join(commands["authapi"]) + "\nbare:    "
                  + " ".join(commands["bare"]), flush=True)
            fast_users = [seed.email(BASE_ROUNDS, k) for k in range(seed.USERS_PER_COST)]
            pairs = server.login_many(fast_users, options.sessions)
            access = write_lines(work / "access.txt", [pair["access_token"] for pair in pairs])
            size = options.cold_tokens
            rows += combine([main_round(server, bare, options, work, access,
                                        cold[k * size:(k + 1) * size], k + 1)
                             for k in range(options.rounds)])
        for rounds in login_rounds:
            if rounds != BASE_ROUNDS:
                with (Server({**env, "AUTHAPI_BCRYPT_ROUNDS": str(rounds)}, options.workers,
                             log) as server, BareServer(server, log) as bare):
                    rows += combine([login_round(server, bare, options, work, rounds, k + 1)
                                     for k in range(options.rounds)])
        errors = [line for line in log.read_text(errors="replace").splitlines()
                  if "Traceback" in line or "[ERROR]" in line]
    commit, dirty = git_state()
    settings = {
        "db": options.db, "rows": options.rows, "workers": options.workers,
        "duration": options.duration, "warmup": options.warmup,
        "connections": options.connections, "algorithm": options.algorithm,
        "bcrypt_rounds": [BASE_ROUNDS, *[r for r in login_rounds if r != BASE_ROUNDS]],
        "server_cpu": loadgen.SERVER_CPU, "wrk_cpu": loadgen.WRK_CPU, "access_log": False,
        "server_settings": SERVER_SETTINGS, "smoke": options.smoke,
        "git_commit": commit, "git_dirty": dirty, "started_at": time.strftime(
            "%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)), "elapsed_seconds": round(
            time.time() - started, 1), "python": platform.python_version(),
        "cpu": platform.processor() or platform.machine(), "interleave": options.interleave,
        "rounds": options.rounds, "routes": ["bare", "healthz", *options.routes],
        "gunicorn_commands": commands,
        "load_average_before": load_before, "load_average_after": os.getloadavg(),
        "server_log_errors": errors[:20],
    }
    bcrypt = {str(row["bcrypt_rounds"]): row["bcrypt_rate"] for row in rows if "bcrypt_rate" in row}
    return {"settings": settings, "seed": database.stats, "bcrypt": bcrypt, "results": rows}


def main(argv: list[str] | None = None) -> int:
    """Run, print the table, write the JSON; in smoke mode, check that ratios exist."""
    options = parse_args(argv)
    preflight()
    result = run(options)
    print()
    print(report.run_table(result))
    if result["settings"]["server_log_errors"]:
        print("\nserver log errors:\n  " + "\n  ".join(result["settings"]["server_log_errors"]))
    options.out.parent.mkdir(parents=True, exist_ok=True)
    options.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nwrote {options.out}")
    if options.smoke:
        missing = [row["route"] for row in result["results"]
                   if row.get("status") != "n/a" and (row.get("ratio_to_bare") is None
                                                      or row.get("ratio_to_healthz") is None)]
        if missing:
            print(f"smoke: no ratio for {', '.join(missing)}", file=sys.stderr)
            return 1
        print("smoke: every ratio computed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
