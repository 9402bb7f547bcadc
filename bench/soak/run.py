"""The soak harness: `python -m bench.soak --short` (CI, about 80 s) or `--minutes 30`.

Two `authapi serve --workers 2` behind deploy/nginx.conf on a private PostgreSQL and Redis,
a mixed workload at a steady rate, faults on a schedule, invariants checked throughout,
a report at the end. Exit status 1 when any invariant broke, 0 when all held (or when this
machine lacks PostgreSQL, Redis or nginx: the run is skipped and says why).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: bench/soak/run.py
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    __package__ = "bench.soak"

from bench.soak import attack, checks, consistency, faults, report, workload
from bench.soak.client import Http, Pacer, Sampler, Tracker
from bench.soak.events import EventLog, Rss
from bench.soak.infra import (
    AUTHAPI,
    Instance,
    Nginx,
    Postgres,
    Redis,
    free_port,
    missing_tools,
    rss_kb,
)

GRACE = 30


def arguments(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__)
    p.add_argument("--short", action="store_true",
                   help="the CI form: one fault of each kind in about a minute")
    p.add_argument("--minutes", type=float, default=30.0, help="length of the long form")
    p.add_argument("--rate", type=float, default=40.0, help="workload requests per second")
    p.add_argument("--users", type=int, default=8, help="simulated users (each with tabs)")
    p.add_argument("--out", type=Path, help="report folder (default: a new temp folder)")
    p.add_argument("--keep", action="store_true", help="keep the work folder (logs)")
    return p.parse_args(argv)


def cli(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    done = subprocess.run([AUTHAPI, *args], env=env, input=stdin, text=True,
                          capture_output=True, timeout=120, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"authapi {' '.join(args)} failed: {done.stderr[-2000:]}")
    return done.stdout


class Run:
    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        self.args, self.workdir = args, workdir
        self.log = EventLog()
        self.stop = threading.Event()
        self.pg = Postgres()
        self.redis = Redis()
        nginx_port = free_port()
        tls = "listen 443 ssl;" in (Path(__file__).resolve().parents[2] / "deploy" /
                                    "nginx.conf").read_text()
        public = f"{'https' if tls else 'http'}://127.0.0.1:{nginx_port}"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("AUTHAPI_")}
        self.env.update(
            AUTHAPI_ENV="production", AUTHAPI_SECRET_KEY=secrets.token_hex(32),
            AUTHAPI_DATABASE_URL=self.pg.url, AUTHAPI_REDIS_URL=self.redis.url,
            AUTHAPI_ISSUER=public, AUTHAPI_AUDIENCE=public, AUTHAPI_PROXY_COUNT="1",
            AUTHAPI_BCRYPT_ROUNDS="4", AUTHAPI_REFRESH_GRACE=str(GRACE),
            AUTHAPI_MAIL_URL=f"smtp://127.0.0.1:{free_port()}", AUTHAPI_MAIL_WORKER="0",
            # Every simulated client comes from 127.0.0.1: per-address limits would
            # throttle the whole workload. Per-account lockout stays on (the brute force).
            AUTHAPI_LOGIN_RATE_PER_ADDRESS="1000000 per minute",
            AUTHAPI_REGISTER_RATE_PER_ADDRESS="1000000 per hour",
            AUTHAPI_TOKEN_FAILURE_RATE="1000000 per minute",
            AUTHAPI_INSTANCE_PATH=str(workdir / "instance-cli"))
        self.a = Instance("a", self._instance_env("a"), workdir)
        self.b = Instance("b", self._instance_env("b"), workdir)
        self.nginx = Nginx(workdir, self.a, self.b, nginx_port)

    def _instance_env(self, name: str) -> dict[str, str]:
        return {**self.env, "AUTHAPI_INSTANCE_PATH": str(self.workdir / f"instance-{name}"),
                "AUTHAPI_METRICS_PORT": str(free_port())}

    def start(self) -> None:
        self.pg.create()
        self.pg.start()
        self.redis.start()
        cli(self.env, "db", "upgrade")
        for instance in (self.a, self.b):
            instance.start()
        self.nginx.start()

    def stop_all(self) -> None:
        for step in (self.nginx.stop, self.a.stop, self.b.stop, self.redis.stop, self.pg.remove):
            try:
                step()
            except Exception as exc:  # noqa: BLE001  (clean up the rest regardless)
                print(f"soak: cleanup step {step.__qualname__} failed: {exc!r}", file=sys.stderr)

    def world(self) -> workload.World:
        pacer = Pacer(self.args.rate)
        http = Http(self.log, {"nginx": self.nginx.base, "a": self.a.base, "b": self.b.base},
                    pacer, self.nginx.ca)
        tag = secrets.token_hex(3)
        w = workload.World(
            log=self.log, http=http, tracker=Tracker(), sampler=Sampler(http), stop=self.stop,
            grace=GRACE, users=[f"user{i}-{tag}@soak.test" for i in range(self.args.users)],
            victims={f"victim{i}-{tag}@soak.test": "" for i in range(4)},
            attackers=[f"attacker{i}-{tag}@soak.test" for i in range(3)],
            brute_target=f"target-{tag}@soak.test", admin=f"admin-{tag}@soak.test")
        cli(self.env, "users", "create", "--email", w.admin, "--role", "admin",
            "--password-stdin", stdin=workload.PASSWORD)
        made = cli(self.env, "clients", "create", "--name", "soak-service", "--scope",
                   "users:read")
        w.client_id, w.client_secret = (json.loads(made)[k] for k in ("client_id",
                                                                       "client_secret"))
        for email in [*w.users, *w.victims, *w.attackers, w.brute_target]:
            a = http.call("setup", "POST", "/auth/register", paced=False,
                          json={"email": email, "password": workload.PASSWORD})
            if a.status != 201:
                raise RuntimeError(f"register {email}: {a.status} {a.body[:300]!r}")
            if email in w.victims:
                w.victims[email] = a.data["id"]
        pair = workload.login(w, "setup", w.admin)
        if pair is None:
            raise RuntimeError("the administrator cannot log in")
        a = http.call("setup", "POST", "/admin/roles", paced=False, target="a",
                      headers={"Authorization": f"Bearer {pair['access_token']}"},
                      json={"name": "editor", "permissions": ["users:read"]})
        if a.status != 201:
            raise RuntimeError(f"create role editor: {a.status} {a.body[:300]!r}")
        self.log.requests.clear()  # setup is not part of the run
        self.log.started = time.monotonic()
        return w

    def sample_rss(self, every: float) -> None:
        while not self.stop.wait(every):
            for instance in (self.a, self.b):
                for pid in instance.worker_pids():
                    kb = rss_kb(pid)
                    if kb is not None:
                        self.log.rss.append(Rss(self.log.now(), instance.name, pid, kb))

    def execute(self) -> dict[str, Any]:
        short = self.args.short
        duration = 60.0 if short else self.args.minutes * 60
        schedule = faults.short_schedule() if short else faults.long_schedule(duration)
        w = self.world()
        threads = [threading.Thread(target=workload.user, args=(w, email), daemon=True)
                   for email in w.users]
        threads += [threading.Thread(target=f, args=(w,), daemon=True)
                    for f in (workload.service, workload.admin, attack.attacker)]
        threads.append(threading.Thread(target=self.sample_rss, args=(2.0 if short else 5.0,),
                                        daemon=True))
        for thread in threads:
            thread.start()
        targets = faults.Targets(self.a, self.b, self.pg, self.redis, self.env)
        faults.run_schedule(self.log, schedule, targets, self.stop)
        tail = 10.0
        while self.log.now() < max(duration, self.log.faults[-1].end + tail if self.log.faults
                                   else duration):
            time.sleep(0.5)
        end = self.log.now()
        self.stop.set()
        for thread in threads:
            thread.join(timeout=20)
        found = consistency.check(self.log, self.pg.url.replace("postgresql+psycopg", "postgresql"),
                                  w.tracker)
        limits = checks.Limits(warmup=5.0, rss_warmup=10.0 if short else 120.0,
                               rss_span=20.0 if short else 300.0)
        verdict = checks.evaluate(self.log, end, limits)
        config = {"form": "short (CI)" if short else f"long ({self.args.minutes:g} min)",
                  "rate": self.args.rate, "users": self.args.users, "refresh_grace_s": GRACE,
                  "topology": "nginx (deploy/nginx.conf) -> 2 x `authapi serve --workers 2`, "
                              "private PostgreSQL and Redis, AUTHAPI_ENV=production, "
                              "bcrypt cost 4", "schedule": schedule,
                  "samples_not_taken": w.sampler.skipped, "code": code_version()}
        return report.summarise(self.log, verdict, config, found, end)


def code_version() -> str:
    """The commit the authapi under test comes from, and whether its tree had changes."""
    src = Path(subprocess.run([sys.executable, "-c",
                               "import authapi; print(authapi.__file__)"],
                              capture_output=True, text=True, check=False).stdout.strip())
    git = ["git", "-C", str(src.parent)]
    head = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True,
                          text=True, check=False).stdout.strip()
    dirty = subprocess.run([*git, "status", "--porcelain", "--", "."], capture_output=True,
                           text=True, check=False).stdout.strip()
    return f"{head or '?'}{' + uncommitted changes' if dirty else ''} ({src.parent})"


def main(argv: list[str] | None = None) -> int:
    args = arguments(argv)
    reason = missing_tools()
    if reason:
        print(f"soak: SKIPPED: {reason}")
        return 0
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    workdir = Path(tempfile.mkdtemp(prefix="authapi-soak-"))
    run: Run | None = None
    ok = False
    try:
        run = Run(args, workdir)
        run.start()
        summary = run.execute()
        ok = bool(summary["ok"])
        out = args.out or Path(tempfile.mkdtemp(prefix="authapi-soak-report-"))
        path = report.write(summary, out)
        print(path.read_text().split("## Faults")[0])
        print(f"soak: report in {out}")
        for name, v in summary["invariants"].items():
            for example in v["examples"]:
                print(f"soak: BROKEN {name}: {example}")
    except KeyboardInterrupt:
        print("soak: interrupted; cleaning up", file=sys.stderr)
    finally:
        if run is not None:
            run.stop_all()
        if ok and not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print(f"soak: logs kept in {workdir}", file=sys.stderr)
    print(f"soak: {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
