"""What DPoP costs on GET /auth/check, against a bearer check and the bare-Flask floor.

    taskset -c 0 python bench/dpop.py                  # 10 rounds of 1,000 per variant
    taskset -c 0 python bench/dpop.py --database-url postgresql+psycopg://postgres@127.0.0.1/x

In-process, as bench/hooks.py: direct WSGI calls with prebuilt environs, timed as this
thread's CPU time. The variants take turns every `--chunk` requests:
- bare Flask (bench/bare_app.py) GET /healthz;
- authapi GET /auth/check with an unbound access token as `Bearer`;
- authapi GET /auth/check with a DPoP-bound token as `DPoP` and a fresh ES256 proof.
Every DPoP request has its own proof (its own jti), signed with PyJWT before its
chunk starts and outside the timing, so each timed check does the full work: one
proof signature verification and one replay-cache write (the database given, or a
temporary SQLite file; Redis with AUTHAPI_REDIS_URL in the environment). The
replay write goes to the database: CPU time misses the time spent waiting for it,
so the table also gives wall time.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import bare_app
from flask import Flask
from prover import Prover
from werkzeug.test import EnvironBuilder

from authapi import bootstrap, create_app, db, migrations

PASSWORD = "correct horse battery staple"


def tokens(app: Flask, prover: Prover) -> tuple[str, str]:
    """An unbound and a DPoP-bound access token of one user, by real logins."""
    client = app.test_client()
    body = {"email": "bench@example.com", "password": PASSWORD}
    assert client.post("/auth/register", json=body).status_code == 201
    unbound = client.post("/auth/login", json=body).get_json()["access_token"]
    bound = client.post("/auth/login", json=body,
                        headers={"DPoP": prover.proof("POST", "/auth/login")}).get_json()
    assert bound["token_type"] == "DPoP"
    return unbound, bound["access_token"]


def timer(app: Flask, environs: Callable[[int], list[dict[str, Any]]]
          ) -> Callable[[int], tuple[float, float]]:
    """Serve `n` requests; return (CPU µs, wall µs) per request."""
    status: list[str] = []

    def start_response(code: str, _headers: list[tuple[str, str]], *_exc: Any) -> None:
        status.append(code)

    def run(n: int) -> tuple[float, float]:
        batch = environs(n)
        status.clear()
        cpu, wall = time.thread_time(), time.perf_counter()
        for environ in batch:
            body = app(environ, start_response)
            for _chunk in body:
                pass
            getattr(body, "close", lambda: None)()
        cpu, wall = time.thread_time() - cpu, time.perf_counter() - wall
        assert set(status) == {"200 OK"}, set(status)
        return cpu / n * 1e6, wall / n * 1e6

    return run


def environ(path: str, headers: dict[str, str]) -> dict[str, Any]:
    """A prebuilt WSGI environ."""
    return EnvironBuilder(path=path, headers=headers,
                          environ_base={"REMOTE_ADDR": "127.0.0.1"}).get_environ()


def main(argv: list[str] | None = None) -> int:
    """Build the apps, time the three variants in turns, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-n", type=int, default=10_000, help="requests per variant, in all")
    parser.add_argument("--chunk", type=int, default=1_000)
    parser.add_argument("--database-url", default="", help="default: a temporary SQLite file")
    options = parser.parse_args(argv)
    rounds = max(1, options.n // options.chunk)
    with tempfile.TemporaryDirectory(prefix="authapi-dpop-") as tmp:
        url = options.database_url or f"sqlite:///{Path(tmp) / 'dpop.db'}"
        migrations.upgrade(url)
        app = create_app({"AUTHAPI_DATABASE_URL": url, "AUTHAPI_ENV": "testing",
                          "AUTHAPI_INSTANCE_PATH": tmp, "AUTHAPI_BCRYPT_ROUNDS": 4,
                          "AUTHAPI_REDIS_URL": os.environ.get("AUTHAPI_REDIS_URL", "")})
        bootstrap.run(app)
        prover = Prover()
        unbound, bound = tokens(app, prover)
        check = "/auth/check"
        plain = environ(check, {"Authorization": f"Bearer {unbound}"})
        floor = environ("/healthz", {"Authorization": f"Bearer {unbound}"})
        variants = {
            "bare Flask GET /healthz": timer(bare_app.app, lambda n: [floor.copy()] * n),
            "authapi /auth/check, Bearer": timer(app, lambda n: [plain.copy()] * n),
            "authapi /auth/check, DPoP": timer(app, lambda n: [environ(check, {
                "Authorization": f"DPoP {bound}",
                "DPoP": prover.proof("GET", check, bound)}) for _ in range(n)]),
        }
        samples: dict[str, list[tuple[float, float]]] = {name: [] for name in variants}
        order, names = random.Random(0), list(variants)
        for _ in range(rounds):
            order.shuffle(names)
            for name in names:
                variants[name](50)
                samples[name].append(variants[name](options.chunk))
        db.dispose(app)
    cpu = {name: statistics.median(s[0] for s in values) for name, values in samples.items()}
    wall = {name: statistics.median(s[1] for s in values) for name, values in samples.items()}
    bare = "bare Flask GET /healthz"
    cache = "redis" if os.environ.get("AUTHAPI_REDIS_URL") else "database"
    print(f"\n{rounds} rounds of {options.chunk:,} per variant; database "
          f"{url.split(':')[0]}; replay cache {cache}\n")
    print("| variant | CPU µs/req | × floor (CPU) | wall µs/req | × floor (wall) |")
    print("|---|---:|---:|---:|---:|")
    for name in variants:
        print(f"| {name} | {cpu[name]:.0f} | {cpu[name] / cpu[bare]:.1f} | {wall[name]:.0f} | "
              f"{wall[name] / wall[bare]:.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
