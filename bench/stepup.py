"""What RFC 9470's `acr` and `max_age` add to /auth/check, in-process (issue 22: at most 5 %).

    taskset -c 0 python bench/stepup.py              # 20 rounds of 1,000 requests each

Direct WSGI calls (no HTTP, no server) of `GET /auth/check` and of
`GET /auth/check?acr=pwd&max_age=86400` with one real access token, timed as this
thread's CPU time, the two taking turns every round; the table shows the median and
best round of each and their ratio. Over HTTP (bench/run.py's `check-acr` row) the
difference is the same work, but a shared machine's noise there is larger than 5 %.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from hooks import timer
from sqlalchemy import create_engine
from werkzeug.test import EnvironBuilder

from authapi import bootstrap, create_app, db
from authapi.accounts import accounts
from authapi.db import Model

PASSWORD = "correct horse battery staple"
PLAIN, STEP_UP = "/auth/check", "/auth/check?acr=pwd&max_age=86400"


def main() -> None:
    """Build the app, sign a user in, time both paths in turns."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--chunk", type=int, default=1_000)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="authapi-stepup-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'stepup.db'}"
        Model.metadata.create_all(create_engine(url))
        app = create_app({"AUTHAPI_DATABASE_URL": url, "AUTHAPI_ENV": "testing",
                          "AUTHAPI_INSTANCE_PATH": tmp, "AUTHAPI_BCRYPT_ROUNDS": 4})
        bootstrap.run(app)
        with app.app_context():
            accounts.create("bench@example.com", PASSWORD, roles=("user",))
            db.orm().commit()
        token = app.test_client().post("/auth/login", json={
            "email": "bench@example.com", "password": PASSWORD}).get_json()["access_token"]
        runs = {path: timer(app, EnvironBuilder(
            path=path.split("?")[0], query_string=path.partition("?")[2],
            headers={"Authorization": f"Bearer {token}"},
            environ_base={"REMOTE_ADDR": "127.0.0.1"}).get_environ()) for path in (PLAIN, STEP_UP)}
        samples: dict[str, list[float]] = {path: [] for path in runs}
        for round_no in range(options.rounds):
            for path in (PLAIN, STEP_UP) if round_no % 2 else (STEP_UP, PLAIN):
                runs[path](50)
                samples[path].append(runs[path](options.chunk))
        app.extensions["authapi.engine"].dispose()
        app.extensions["authapi.read_engine"].dispose()
    median = {path: statistics.median(values) for path, values in samples.items()}
    best = {path: min(values) for path, values in samples.items()}
    print(f"\n{options.rounds} rounds of {options.chunk:,} requests each, thread CPU µs/request\n")
    print("| request | median | best |\n|---|--:|--:|")
    for path in runs:
        print(f"| `GET {path}` | {median[path]:.1f} | {best[path]:.1f} |")
    print(f"| step-up / plain | {median[STEP_UP] / median[PLAIN]:.3f}x | "
          f"{best[STEP_UP] / best[PLAIN]:.3f}x |")


if __name__ == "__main__":
    main()
