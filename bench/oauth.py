"""/oauth/token (client credentials) and /oauth/introspect against the /healthz floor.

    python bench/oauth.py --duration 10 [--workers 1] [--algorithm RS256]

Standalone beside run.py (same pinning: server on core 0, wrk on core 1, fresh SQLite
database, no access log). Each route is a ratio to the floor measured in the same run;
the floor is measured before and after every route and the mean taken.
Targets (issue 7): client credentials >= 0.3x, introspection >= 0.5x.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
from pathlib import Path

from loadgen import Load, Server, http, run_wrk
from seed import authapi_command


def main() -> None:
    """Seed a client, then measure the floor, the token endpoint and introspection."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--algorithm", default="RS256")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("AUTHAPI_")},
               "AUTHAPI_INSTANCE_PATH": folder, "AUTHAPI_JWT_ALGORITHM": options.algorithm,
               "AUTHAPI_TOKEN_FAILURE_RATE": "1000000 per minute"}
        subprocess.run([authapi_command(), "db", "upgrade"], env=env, check=True,
                       capture_output=True)
        created = json.loads(subprocess.run(
            [authapi_command(), "clients", "create", "--name", "bench", "--scope", "a b"],
            env=env, check=True, capture_output=True, text=True).stdout)
        basic = f"{created['client_id']}:{created['client_secret']}"
        with Server(env, options.workers, Path(folder) / "server.log") as server:
            status, answer = http(server.base + "/oauth/token", "POST",
                                  b"grant_type=client_credentials",
                                  {"Content-Type": "application/x-www-form-urlencoded",
                                   "Authorization": "Basic " + _b64(basic)})
            assert status == 200, answer
            token = json.loads(answer)["access_token"]
            os.environ["AUTH_TOKEN"] = token

            def load(path: str, script: str, *args: str) -> Load:
                return run_wrk(server.base + path, script, list(args), options.duration,
                               options.connections)

            routes = {"client_credentials": ("/oauth/token", "grant_type=client_credentials"),
                      "introspect": ("/oauth/introspect", f"token={token}")}
            floors = [load("/healthz", "bearer.lua")]
            results = {}
            for name, (path, form) in routes.items():
                results[name] = load(path, "oauth_form.lua", basic, form)
                floors.append(load("/healthz", "bearer.lua"))
        for name, result in results.items():
            index = list(results).index(name)
            floor = (floors[index].ok_rps + floors[index + 1].ok_rps) / 2
            print(f"{name:20s} {result.ok_rps:8.1f} req/s  {result.ok_rps / floor:5.2f}x floor "
                  f"({floor:.1f} req/s)  p50 {result.p50_ms} ms  p99 {result.p99_ms} ms  "
                  f"statuses {result.statuses}")


def _b64(text: str) -> str:
    import base64
    return base64.b64encode(text.encode()).decode()


if __name__ == "__main__":
    main()
