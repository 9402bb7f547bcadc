"""The moving parts of a load run: the pinned server, wrk, real logins, the bcrypt rate."""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from seed import PASSWORD, authapi_command

SERVER_CPU, WRK_CPU = "0", "1"
BENCH = Path(__file__).resolve().parent
LUA = BENCH / "lua"
AUTHAPI_MODULE, BARE_MODULE = "authapi.wsgi:app", "bare_app:app"
HTTP = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: no proxy
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
TIME_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}


@dataclass
class Load:
    """What one wrk run measured; latencies in milliseconds."""

    requests: int
    seconds: float
    rps: float
    non2xx: int
    socket_errors: int
    p50_ms: float | None
    p99_ms: float | None
    statuses: dict[str, int] = field(default_factory=dict)

    @property
    def ok_rps(self) -> float:
        """Responses below 400 per second: what the route really served."""
        return (self.requests - self.non2xx) / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, with the 2xx rate."""
        return {**asdict(self), "ok_rps": round(self.ok_rps, 1)}


def _ms(value: str, unit: str) -> float:
    return float(value) * TIME_UNITS[unit]


def parse_wrk(output: str) -> Load:
    """Read wrk's --latency report, and the `statuses:` line of bench/lua/common.lua."""
    def find(pattern: str) -> re.Match[str] | None:
        return re.search(pattern, output, re.MULTILINE)

    total = find(r"^\s*(\d+) requests in ([\d.]+)(us|ms|s|m|h)")
    if total is None:
        raise RuntimeError(f"unreadable wrk output:\n{output}")
    percentiles = {}
    for name in ("50", "99"):
        match = find(rf"^\s+{name}(?:\.000)?%\s+([\d.]+)(us|ms|s|m|h)\s*$")
        percentiles[name] = _ms(*match.groups()) if match else None
    non2xx = find(r"Non-2xx or 3xx responses: (\d+)")
    sockets = find(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")
    statuses = find(r"^statuses: (.*)$")
    requests = int(total.group(1))
    seconds = _ms(total.group(2), total.group(3)) / 1e3
    return Load(
        requests=requests, seconds=seconds, rps=round(requests / seconds, 1) if seconds else 0.0,
        non2xx=int(non2xx.group(1)) if non2xx else 0,
        socket_errors=sum(int(n) for n in sockets.groups()) if sockets else 0,
        p50_ms=percentiles["50"], p99_ms=percentiles["99"],
        statuses={status: int(count) for status, count in
                  (pair.split("=", 1) for pair in statuses.group(1).split())} if statuses else {},
    )


def run_wrk(url: str, script: str, args: list[str], duration: float, connections: int,
            timeout: float = 10.0) -> Load:
    """One wrk run pinned to its own core: one thread, `connections` keep-alive connections."""
    command = ["taskset", "-c", WRK_CPU, "wrk", "-t1", f"-c{connections}",
               f"-d{max(1, round(duration))}s", "--latency", f"--timeout={round(timeout)}s",
               "-s", str(LUA / script), url, "--", *args]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    return parse_wrk(done.stdout)


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http(url: str, method: str = "GET", body: bytes | None = None,
         headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    """Status and body of one request; 4xx and 5xx are answers, not exceptions."""
    # Only ever http://127.0.0.1:<port> of the server this driver started.
    request = urllib.request.Request(  # noqa: S310
        url, data=body, method=method, headers=headers or {})
    try:
        with HTTP.open(request, timeout=60) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


class Server:
    """`authapi serve` pinned to one core, in its own process group, stopped on exit."""

    name = "authapi"

    def __init__(self, env: dict[str, str], workers: int, log_path: Path) -> None:
        self.env, self.workers, self.log_path = env, workers, log_path
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None
        self.warmed = False  # a fresh server runs slower for its first seconds
        self._service: tuple[str, str] | None = None

    def command(self) -> list[str]:
        """`authapi serve`, which execs gunicorn in the same process (see authapi/cli/server.py)."""
        return ["taskset", "-c", SERVER_CPU, authapi_command(), "serve",
                "--workers", str(self.workers), "--port", str(self.port), "--no-migrate"]

    def __enter__(self) -> Server:
        command = self.command()
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(command, env=self.env, stdout=log,
                                            stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the {self.name} server exited early:\n{self.log_tail()}")
            try:
                if http(self.base + "/healthz")[0] == 200 and self.worker_pids():
                    return self
            except OSError:
                pass
            time.sleep(0.2)
        self.__exit__()
        raise RuntimeError(f"the {self.name} server did not answer /healthz within 60 s:\n"
                           f"{self.log_tail()}")

    def gunicorn_argv(self) -> list[str]:
        """The gunicorn master's command line, as the kernel has it (taskset and `authapi
        serve` both exec, so the master is the process this driver started)."""
        assert self.process is not None
        raw = Path(f"/proc/{self.process.pid}/cmdline").read_bytes()
        return raw.rstrip(b"\0").decode().split("\0")

    def worker_pids(self) -> list[int]:
        """The gunicorn workers: the master's children."""
        if self.process is None:
            return []
        pid = self.process.pid
        try:
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        except OSError:
            return []
        return sorted(int(child) for child in children)

    def cpu_seconds(self) -> tuple[list[int], float]:
        """The workers, and the CPU time (user + system) they have used so far."""
        pids, ticks = self.worker_pids(), 0
        for pid in pids:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            ticks += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
        return pids, ticks / CLOCK_TICKS

    def __exit__(self, *_exc: object) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def settle(self, quick: float = 0.05, limit: float = 180) -> None:
        """Wait until /healthz answers within `quick` seconds: nothing is queued any more."""
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            started = time.perf_counter()
            http(self.base + "/healthz")
            if time.perf_counter() - started < quick:
                return
            time.sleep(0.2)

    def log_tail(self, lines: int = 30) -> str:
        """The end of the server's log."""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def route_exists(self, method: str, path: str) -> bool:
        """Whether the server routes `method path` at all (not 404, not 405)."""
        status, _ = http(self.base + path, method, b"grant_type=refresh_token&refresh_token=x",
                         {"Content-Type": "application/x-www-form-urlencoded"})
        return status not in (404, 405)

    def login(self, email: str, password: str = PASSWORD, proof: str | None = None
              ) -> dict[str, Any]:
        """A real login over HTTP: the token pair (DPoP-bound with a `proof` of a key)."""
        body = json.dumps({"email": email, "password": password}).encode()
        headers = {"Content-Type": "application/json", **({"DPoP": proof} if proof else {})}
        status, answer = http(self.base + "/auth/login", "POST", body, headers)
        if status != 200:
            raise RuntimeError(f"login of {email} answered {status}: {answer[:300]!r}")
        return dict(json.loads(answer))

    def login_many(self, emails: list[str], count: int) -> list[dict[str, Any]]:
        """`count` logins (so `count` sessions), cycling through `emails`, four at a time."""
        with ThreadPoolExecutor(max_workers=4) as pool:
            return list(pool.map(self.login, (emails[k % len(emails)] for k in range(count))))

    def service_client(self) -> tuple[str, str]:
        """A service client (`authapi clients create`, once per server) as
        "client_id:client_secret", and an access token it got by client credentials."""
        if self._service is None:
            created = json.loads(subprocess.run(
                [authapi_command(), "clients", "create", "--name", "bench", "--scope", "a b"],
                env=self.env, check=True, capture_output=True, text=True).stdout)
            basic = f"{created['client_id']}:{created['client_secret']}"
            status, answer = http(self.base + "/oauth/token", "POST",
                                  b"grant_type=client_credentials",
                                  {"Content-Type": "application/x-www-form-urlencoded",
                                   "Authorization": "Basic "
                                   + base64.b64encode(basic.encode()).decode()})
            if status != 200:
                raise RuntimeError(f"client credentials: {status} {answer!r}")
            self._service = basic, json.loads(answer)["access_token"]
        return self._service



class BareServer(Server):
    """bench/bare_app.py under authapi's exact gunicorn command, on the same core.

    The command line is read from the running authapi master (/proc/<pid>/cmdline), so
    it cannot drift from what `authapi serve` builds: only the bind address and the app
    module differ. Start it while `like` runs; it may outlive `like`.
    """

    name = "bare Flask"

    def __init__(self, like: Server, log_path: Path) -> None:
        argv = like.gunicorn_argv()
        if AUTHAPI_MODULE not in argv or "--bind" not in argv:
            raise RuntimeError(f"unexpected gunicorn command line for authapi: {argv}")
        pythonpath = [str(BENCH), *filter(None, [like.env.get("PYTHONPATH", "")])]
        super().__init__({**like.env, "PYTHONPATH": os.pathsep.join(pythonpath)},
                         like.workers, log_path)
        bind = argv.index("--bind") + 1
        argv[bind] = argv[bind].rsplit(":", 1)[0] + f":{self.port}"
        argv[argv.index(AUTHAPI_MODULE)] = BARE_MODULE
        self.argv, self.authapi_argv = argv, like.gunicorn_argv()

    def command(self) -> list[str]:
        """taskset, then authapi's gunicorn argv with the module swapped."""
        return ["taskset", "-c", SERVER_CPU, *self.argv]


BCRYPT_LOOP = """
import sys, time
from authapi.accounts.passwords import context
rounds, min_seconds, password = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
ctx = context(rounds)
stored = ctx.hash(password)
count, start = 0, time.perf_counter()
while True:
    ctx.verify(password, stored)
    count += 1
    elapsed = time.perf_counter() - start
    if elapsed >= min_seconds and count >= 3:
        break
print(count / elapsed)
"""


def bcrypt_rate(rounds: int, min_seconds: float = 3.0) -> float:
    """bcrypt_sha256 hashes per second at this cost, in-process on the server's core.

    Timed as verify(), which is what a login does: one bcrypt_sha256 hash of the
    password with the stored salt, and a comparison.
    """
    done = subprocess.run(["taskset", "-c", SERVER_CPU, sys.executable, "-c", BCRYPT_LOOP,
                           str(rounds), str(min_seconds), PASSWORD],
                          capture_output=True, text=True, check=True)
    return float(done.stdout.strip())


def mint_access_tokens(env: dict[str, str], count: int) -> list[str]:
    """Access tokens for `count` random live seeded sessions, signed with the server's key.

    Made in-process because thousands of distinct sessions through real logins would
    take minutes; the tokens are what a login would issue for those sessions.
    """
    from sqlalchemy import text

    from authapi import create_app, db
    from authapi.tokens import tokens

    app = create_app({key: value for key, value in env.items() if key.startswith("AUTHAPI_")})
    with app.app_context():
        rows = db.orm().execute(text(
            "SELECT id, user_id FROM sessions WHERE revoked_at IS NULL "
            "AND user_agent = 'bench-seed' ORDER BY random() LIMIT :count"), {"count": count}).all()
        minted = [tokens.issue_access(tokens.Subject(sub=user_id, roles=["user"], scope=""),
                                      session_id) for session_id, user_id in rows]
    app.extensions["authapi.engine"].dispose()
    return minted
