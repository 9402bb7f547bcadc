"""Cold start (issue 23 item 5): from exec of `authapi serve` to its first 200.

    python bench/coldstart.py [--runs 5] [--workers 1]

Each run starts `authapi serve` on the embedded default (SQLite in a fresh instance
folder, already migrated, its signing key already made), polls GET /healthz every
5 ms, and records the wall time from the exec to the first 200, then stops the server.
By default it passes `--no-migrate`, as a deployment that migrates in its own step;
`--migrate` keeps the embedded default's start-up migration check (`db upgrade`).
Prints the median and every run.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import tempfile
import time
import urllib.request

from loadgen import free_port
from seed import authapi_command


def first_200(env: dict[str, str], workers: int, migrate: bool) -> float:
    """Seconds from exec to the first 200 of GET /healthz."""
    port = free_port()
    command = [authapi_command(), "serve", "--port", str(port), "--workers", str(workers)]
    if not migrate:
        command.append("--no-migrate")
    started = time.perf_counter()
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,  # noqa: S603
                              stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz",  # noqa: S310
                                            timeout=1) as answer:
                    if answer.status == 200:
                        return time.perf_counter() - started
            except OSError:
                pass
            if server.poll() is not None:
                raise RuntimeError("authapi serve exited")
            time.sleep(0.005)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def main() -> None:
    """Prepare one instance, then time `--runs` starts."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--migrate", action="store_true")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="authapi-coldstart-") as tmp:
        env = {**os.environ, "AUTHAPI_INSTANCE_PATH": tmp}
        env.pop("AUTHAPI_DATABASE_URL", None)
        subprocess.run([authapi_command(), "db", "upgrade"], env=env, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        first_200(env, options.workers, True)  # creates the signing key, warms the disk cache
        runs = [first_200(env, options.workers, options.migrate) for _ in range(options.runs)]
    check = "with" if options.migrate else "no"
    print(f"exec -> first 200: median {statistics.median(runs):.3f} s; runs "
          + " ".join(f"{r:.3f}" for r in runs)
          + f" ({options.workers} worker(s), {check} migration check)")


if __name__ == "__main__":
    main()
