"""authapi against Flask-JWT-Extended's own equivalent (issue 23 item 7).

    python bench/fje.py --duration 5 --rounds 3

One worker each, authapi's exact gunicorn command line (bench/fje_app.py swapped in as
bench/run.py swaps in the bare app), the server on core 0 and wrk on core 1, in turns:
- `GET /auth/check` (RS256, revocation checked) against FJE's `@jwt_required()` route
  (HS256, nothing to revoke);
- `POST /auth/refresh` (rotation, reuse detection, audit, a database write) against
  FJE's `@jwt_required(refresh=True)` route (a new access token, no database).
Prints the median req/s of each and authapi's ratio to FJE, and the load average.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

import loadgen
import seed
from loadgen import BARE_MODULE, BENCH, BareServer, Server

SETTINGS = {"AUTHAPI_LOGIN_RATE_PER_ADDRESS": "1000000 per minute", "AUTHAPI_BCRYPT_ROUNDS": "4"}


class FjeServer(BareServer):
    """bench/fje_app.py under authapi's gunicorn command line."""

    name = "Flask-JWT-Extended"

    def __init__(self, like: Server, log_path: Path) -> None:
        super().__init__(like, log_path)
        self.argv[self.argv.index(BARE_MODULE)] = "fje_app:app"


def fje_tokens() -> tuple[str, str]:
    """An access and a refresh token of fje_app, minted with its own key."""
    sys.path.insert(0, str(BENCH))
    import fje_app
    from flask_jwt_extended import create_access_token, create_refresh_token

    with fje_app.app.app_context():
        return create_access_token("user-1"), create_refresh_token("user-1")


def run(server: Server, path: str, script: str, args: list[str], duration: float,
        refill: Path | None = None, token: str = "") -> float:
    """2xx req/s after a 2 s warm-up. `refill`: a token file to write `token` into before
    each run (refresh.lua takes what it used out of its file; FJE's token is reusable)."""
    for seconds in (2, duration):
        if refill is not None:
            refill.write_text(token + "\n")
        load = loadgen.run_wrk(server.base + path, script, args, seconds, 16, 5)
        server.settle()
    return load.ok_rps


def main() -> None:
    """Seed, then measure both pairs of routes in turns."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    options = parser.parse_args()
    load_before = os.getloadavg()
    access, refresh = fje_tokens()
    samples: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="authapi-fje-") as tmp:
        work = Path(tmp)
        database = seed.prepare("sqlite", 1_000, work, users_per_cost=4)
        env = {**database.env, **SETTINGS}
        fje_access, fje_refresh = work / "fje-access.txt", work / "fje-refresh.txt"
        fje_access.write_text(access + "\n")
        for _round in range(options.rounds):
            with Server(env, 1, work / "authapi.log") as authapi, \
                    FjeServer(authapi, work / "fje.log") as fje:
                emails = [seed.email(4, k) for k in range(4)]
                pairs = authapi.login_many(emails, 64)
                tokens = work / "access.txt"
                tokens.write_text("".join(p["access_token"] + "\n" for p in pairs))
                pool = work / "refresh.txt"
                pool.write_text("".join(p["refresh_token"] + "\n" for p in pairs))
                for label, server, path, script, args, refill in (
                        ("FJE GET /protected", fje, "/protected", "bearer.lua",
                         [str(fje_access)], None),
                        ("authapi GET /auth/check", authapi, "/auth/check", "bearer.lua",
                         [str(tokens)], None),
                        ("FJE POST /refresh", fje, "/refresh", "refresh.lua",
                         [str(fje_refresh), "header"], fje_refresh),
                        ("authapi POST /auth/refresh", authapi, "/auth/refresh", "refresh.lua",
                         [str(pool), "header"], None)):
                    samples.setdefault(label, []).append(run(
                        server, path, script, args, options.duration, refill, refresh))
    median = {label: statistics.median(values) for label, values in samples.items()}
    print("\n| route | req/s per round | median |\n|---|---|--:|")
    for label, values in samples.items():
        print(f"| {label} | {', '.join(f'{v:.0f}' for v in values)} | {median[label]:.0f} |")
    print(f"\n/auth/check × FJE's protected route: "
          f"{median['authapi GET /auth/check'] / median['FJE GET /protected']:.2f}")
    print(f"/auth/refresh × FJE's refresh: "
          f"{median['authapi POST /auth/refresh'] / median['FJE POST /refresh']:.2f}")
    print(f"load average before {load_before}, after {os.getloadavg()}")


if __name__ == "__main__":
    main()
