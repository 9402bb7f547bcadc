"""Instructions per request over HTTP, counted by callgrind: each route against bare Flask.

    python bench/instructions.py                      # every route, this checkout
    python bench/instructions.py --src /work/before/src --routes check refresh

`run.py` measures time, and on a shared VM the same commit moves by up to 15 % from
run to run: too much to see a change of a few per cent. This counts instead. It
serves each route with authapi's gunicorn command (one sync worker) under
`valgrind --tool=callgrind`, sends it N1 and then, on a fresh server, N2 requests
over one keep-alive connection, and takes the worker's count difference over
N2 - N1: the cost of one request, gunicorn's parsing and writing included, start-up
excluded. The same count for bench/bare_app.py's `GET /healthz` gives the floor.
`PYTHONHASHSEED=0` keeps the runs alike, and the revocation feed's and the outbox's
background threads are kept from polling (their count would grow with the run's
wall time, which valgrind and a busy machine stretch, not with its requests). Run
it on an otherwise idle machine: the same count for the bare app came out 6 % apart
in two runs made while the test suite ran beside them, and within 0.1 % when each
ran alone.

An instruction is not a microsecond: an RSA signature runs several times more
instructions per µs than Python does, so the ratios of routes that sign (refresh,
client credentials) read higher here than in time. For the others the two agree
within run.py's noise. Needs `valgrind` (Debian's package).
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import loadgen
import seed

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
ROUTES = ("healthz", "check", "me", "introspect", "client-credentials", "refresh")
GETS = {"healthz": "/healthz", "check": "/auth/check", "me": "/auth/me"}
FORM = "application/x-www-form-urlencoded"


class Client:
    """One keep-alive connection; every answer must be 200."""

    def __init__(self, port: int) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)

    def send(self, method: str, path: str, body: str | None = None,
             headers: dict[str, str] | None = None) -> Any:
        self.connection.request(method, path, body=body, headers=headers or {})
        answer = self.connection.getresponse()
        data = answer.read()
        if answer.status != 200:
            raise RuntimeError(f"{method} {path}: {answer.status} {data[:200]!r}")
        return json.loads(data)


def wait_up(port: int) -> None:
    for _ in range(1200):
        try:
            Client(port).send("GET", "/healthz")
            return
        except (OSError, http.client.HTTPException):
            time.sleep(0.5)
    raise RuntimeError("the server did not come up")


def requests(route: str, client: Client, env: dict[str, str], count: int) -> None:
    """Set up what `route` needs (the same for every count), then send it `count` times."""
    if route == "bare":
        floor = {"Authorization": "Bearer " + "x" * 900}  # as long as a real token
        for _ in range(count):
            client.send("GET", "/healthz", headers=floor)
        return
    pair = client.send("POST", "/auth/login", json.dumps(
        {"email": seed.email(4, 0), "password": seed.PASSWORD}),
        {"Content-Type": "application/json"})
    bearer = {"Authorization": "Bearer " + pair["access_token"]}
    created = json.loads(subprocess.run(
        [seed.authapi_command(), "clients", "create", "--name", "bench", "--scope", "a b"],
        env=env, capture_output=True, text=True, check=True).stdout)
    secret = f"{created['client_id']}:{created['client_secret']}".encode()
    basic = {"Authorization": "Basic " + base64.b64encode(secret).decode(), "Content-Type": FORM}
    service = client.send("POST", "/oauth/token", "grant_type=client_credentials",
                          basic)["access_token"]
    refresh = pair["refresh_token"]
    for _ in range(count):
        if route in GETS:
            client.send("GET", GETS[route], headers=bearer)
        elif route == "introspect":
            client.send("POST", "/oauth/introspect", f"token={service}", basic)
        elif route == "client-credentials":
            client.send("POST", "/oauth/token", "grant_type=client_credentials", basic)
        else:
            refresh = client.send("POST", "/auth/refresh", headers={
                "Authorization": "Bearer " + refresh})["refresh_token"]


def worker_instructions(route: str, count: int, src: str) -> int:
    """The busiest process's instruction count: a fresh database and server, `count`
    requests, then a clean stop (callgrind writes each process's count on exit)."""
    with tempfile.TemporaryDirectory(prefix="authapi-instr-") as tmp:
        database = seed.prepare("sqlite", 1000, Path(tmp))
        # No background polling: the revocation feed's and the outbox's threads would add
        # a count that grows with the run's wall time, not with its requests.
        env = {**database.env, "AUTHAPI_BCRYPT_ROUNDS": "4", "PYTHONHASHSEED": "0",
               "AUTHAPI_REVOCATION_POLL_INTERVAL": "3600", "AUTHAPI_MAIL_WORKER": "false",
               "PYTHONPATH": os.pathsep.join(filter(None, (src, str(ROOT / "bench"))))}
        port, out = loadgen.free_port(), Path(tmp) / "callgrind"
        module = "bare_app:app" if route == "bare" else "authapi.wsgi:app"
        command = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}.%p", PYTHON,
                   "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "1",
                   "--worker-class", "authapi.gunicorn_worker.ProblemWorker",
                   "--no-control-socket", "--config", "python:authapi.gunicorn_conf",
                   "--timeout", "600", module]
        with open(f"{out}.log", "w") as log:
            server = subprocess.Popen(command, env=env, stdout=log, stderr=log,
                                      start_new_session=True)
        try:
            wait_up(port)
            requests(route, Client(port), env, count)
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=300)
        return max(_total(path) for path in Path(tmp).glob("callgrind.*")
                   if path.suffix != ".log")


def _total(path: Path) -> int:
    text = subprocess.run(["callgrind_annotate", str(path)], capture_output=True,
                          text=True, check=False).stdout
    for line in text.splitlines():
        if "PROGRAM TOTALS" in line and line.split()[0][0].isdigit():
            return int(line.split()[0].replace(",", ""))
    return 0


def per_request(route: str, counts: tuple[int, int], src: str) -> float:
    few, many = (worker_instructions(route, count, src) for count in counts)
    return (many - few) / (counts[1] - counts[0])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--routes", nargs="+", choices=ROUTES, default=list(ROUTES))
    parser.add_argument("--src", default="", help="a src/ folder to run instead of the "
                        "installed authapi (another commit's worktree)")
    parser.add_argument("--counts", type=int, nargs=2, default=(100, 500))
    options = parser.parse_args(argv)
    counts = (options.counts[0], options.counts[1])
    floor = per_request("bare", counts, options.src)
    print(f"| route | instructions per request | × bare Flask |\n|---|--:|--:|\n"
          f"| bare Flask `/healthz` | {floor:,.0f} | 1.00 |", flush=True)
    for route in options.routes:
        cost = per_request(route, counts, options.src)
        print(f"| {route} | {cost:,.0f} | {floor / cost:.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
