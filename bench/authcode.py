"""The authorization code grant against the /healthz floor (issue 21).

    python bench/authcode.py --duration 10 [--workers 1] [--threads 8]

Two jobs, each a ratio to the floor measured by the same driver in the same run:
- `code_exchange`: POST /oauth/token with a fresh code (minted beforehand by a browser
  that is already signed in: one GET /oauth/authorize each) and its PKCE verifier;
- `full_flow`: a new browser each time: GET /oauth/authorize, POST
  /oauth/requests/{id}/login (a password check, bcrypt at AUTHAPI_BCRYPT_ROUNDS=4), and
  the code exchange, for a first-party app.
Codes are single-use, so wrk's fixed bodies cannot drive this: Python threads do,
keep-alive connections, the driver pinned to core 1 and the server to core 0. The floor
is driven the same way, so the driver's own cost is in both sides of each ratio.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import secrets
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import requests
from loadgen import Server
from seed import authapi_command

EMAIL, PASSWORD = "bench-rp@example.com", "correct horse battery staple"
CALLBACK = "https://bench.example/cb"


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def drive(job: Callable[[requests.Session], bool], threads: int, duration: float) -> float:
    """Successful jobs per second, `threads` at a time for `duration` seconds."""
    done, stop = [0] * threads, time.monotonic() + duration

    def worker(index: int) -> None:
        with requests.Session() as session:
            while time.monotonic() < stop:
                done[index] += job(session)

    started = time.monotonic()
    workers = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    return sum(done) / (time.monotonic() - started)


class Flow:
    """The three steps of a sign-in, against one server and one first-party app."""

    def __init__(self, base: str, client_id: str, secret: str) -> None:
        self.base, self.client_id, self.auth = base, client_id, (client_id, secret)

    def authorize(self, browser: requests.Session) -> tuple[str, str]:
        verifier, challenge = pkce()
        answer = browser.get(self.base + "/oauth/authorize", allow_redirects=False, params={
            "response_type": "code", "client_id": self.client_id, "redirect_uri": CALLBACK,
            "scope": "openid", "code_challenge": challenge, "code_challenge_method": "S256"})
        return answer.headers.get("Location", ""), verifier

    def login(self, browser: requests.Session, location: str) -> str:
        request_id = parse_qs(urlsplit(location).query)["request"][0]
        answer = browser.post(f"{self.base}/oauth/requests/{request_id}/login",
                              json={"email": EMAIL, "password": PASSWORD})
        return str(answer.json().get("redirect_to", ""))

    def exchange(self, client: requests.Session, location: str, verifier: str) -> bool:
        code = parse_qs(urlsplit(location).query).get("code", [""])[0]
        answer = client.post(self.base + "/oauth/token", auth=self.auth, data={
            "grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK,
            "code_verifier": verifier})
        return answer.status_code == 200


def main() -> None:
    """Seed a user and a first-party app; measure the floor, the exchange, the flow."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--threads", type=int, default=8)
    options = parser.parse_args()
    os.sched_setaffinity(0, {1})  # the driver on core 1, the server on core 0
    with tempfile.TemporaryDirectory() as folder:
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("AUTHAPI_")},
               "AUTHAPI_INSTANCE_PATH": folder, "AUTHAPI_BCRYPT_ROUNDS": "4",
               "AUTHAPI_TOKEN_FAILURE_RATE": "1000000 per minute",
               "AUTHAPI_LOGIN_RATE_PER_ADDRESS": "1000000 per minute"}
        run = lambda *args, **kw: subprocess.run(  # noqa: E731
            [authapi_command(), *args], env=env, check=True, capture_output=True, text=True,
            **kw)
        run("db", "upgrade")
        run("users", "create", "--email", EMAIL, "--password-stdin", input=PASSWORD + "\n")
        app = json.loads(run("clients", "create", "--name", "bench-rp", "--redirect-uri",
                             CALLBACK, "--first-party").stdout)
        with Server(env, options.workers, Path(folder) / "server.log") as server:
            flow = Flow(server.base, app["client_id"], app["client_secret"])
            signed_in = requests.Session()  # one browser, signed in once
            location, _ = flow.authorize(signed_in)
            flow.login(signed_in, location)
            codes = [flow.authorize(signed_in) for _ in range(int(options.duration * 1500))]
            pool = iter(codes)
            lock = threading.Lock()

            def exchange(client: requests.Session) -> bool:
                with lock:
                    location, verifier = next(pool, ("", ""))
                return bool(location) and flow.exchange(client, location, verifier)

            def full(_: requests.Session) -> bool:
                with requests.Session() as browser:  # a new browser: no sign-in yet
                    location, verifier = flow.authorize(browser)
                    callback = flow.login(browser, location)
                    return flow.exchange(browser, callback, verifier)

            def floor(client: requests.Session) -> bool:
                return client.get(server.base + "/healthz").status_code == 200

            floors, results = [drive(floor, options.threads, options.duration)], {}
            for name, job in (("code_exchange", exchange), ("full_flow", full)):
                results[name] = drive(job, options.threads, options.duration)
                floors.append(drive(floor, options.threads, options.duration))
        for index, (name, rate) in enumerate(results.items()):
            base = (floors[index] + floors[index + 1]) / 2
            print(f"{name:14s} {rate:8.1f} /s  {rate / base:5.2f}x floor ({base:.1f} req/s "
                  f"/healthz, same driver)")


if __name__ == "__main__":
    main()
