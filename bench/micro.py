"""In-process micro-benchmark of the token check, split into its parts (timeit, µs per op).

    python bench/micro.py [--rows 100000] [--algorithm RS256]
    taskset -c 0 python bench/micro.py     # steadier: one core, nothing else on it

A real app from authapi.create_app over a seeded SQLite file; the token comes from a
real login through the test client. Each figure is the best of 7 timeit rounds.
"""

from __future__ import annotations

import argparse
import base64
import json
import tempfile
import timeit
from collections.abc import Callable
from itertools import cycle
from pathlib import Path
from typing import Any

import jwt
import seed
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from sqlalchemy import text

from authapi import create_app, db
from authapi.tokens import core, revocation, tokens


def per_op(parts: dict[str, Callable[[], Any]], rounds: int = 7) -> dict[str, float]:
    """Microseconds per call of each part: the best of `rounds` timeit runs of ~0.2 s.

    The rounds go over every part in turn, so a noisy neighbour slows all parts alike
    instead of spoiling one.
    """
    timers = {name: timeit.Timer(fn) for name, fn in parts.items()}
    numbers = {name: timer.autorange()[0] for name, timer in timers.items()}
    best = dict.fromkeys(parts, float("inf"))
    for _ in range(rounds):
        for name, timer in timers.items():
            best[name] = min(best[name], timer.timeit(numbers[name]) / numbers[name] * 1e6)
    return best


def b64json(segment: str) -> Any:
    """A JWT segment decoded: base64url, then JSON."""
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


def parse_only(token: str) -> Any:
    """(a) What reading a token costs before any cryptography."""
    header = jwt.get_unverified_header(token)
    return header, b64json(token.split(".")[1])


def signature_check(algorithm: str, key: Any, token: str) -> Callable[[], Any]:
    """(b) The signature verification alone, on the token's signing input."""
    signing_input, _, encoded = token.rpartition(".")
    message = signing_input.encode()
    signature = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
    if isinstance(key, rsa.RSAPublicKey) and algorithm == "RS256":
        return lambda: key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
    verifier = jwt.get_algorithm_by_name(algorithm)  # ES256 (raw r||s), EdDSA, HS256
    return lambda: verifier.verify(message, key, signature)


def main() -> None:
    """Seed, log in, and time each part of the check path."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--algorithm", default="RS256")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="authapi-micro-") as tmp:
        database = seed.prepare("sqlite", options.rows, Path(tmp))
        app = create_app({
            "AUTHAPI_DATABASE_URL": database.url, "AUTHAPI_INSTANCE_PATH": str(database.instance),
            "AUTHAPI_BCRYPT_ROUNDS": 4, "AUTHAPI_JWT_ALGORITHM": options.algorithm,
        })
        timings = measure(app, options.algorithm)
        app.extensions["authapi.engine"].dispose()
    print(f"authapi check path, in-process, {options.algorithm}, SQLite with "
          f"{options.rows:,} sessions and revoked tokens (µs per op, best of 7)\n")
    width = max(len(label) for label, _ in timings)
    for label, micros in timings:
        print(f"  {label:<{width}}  {micros:9.1f} µs  {1e6 / micros:11,.0f} /s")
    values = dict(timings)
    check, health = values[LABELS["f1"]], values[LABELS["f2"]]
    decode, warm = values[LABELS["d"]], values[LABELS["e1"]]
    print(f"\n  /auth/check over /healthz (test client): {check - health:7.1f} µs, of which "
          f"tokens.decode {decode:.1f} and warm is_revoked {warm:.1f}; "
          f"the rest {check - health - decode - warm:.1f}")


LABELS = {
    "a": "(a) parse: get_unverified_header + base64/json",
    "b": "(b) signature verify alone",
    "c": "(c) jwt.decode with key and claim checks",
    "d": "(d) authapi.tokens.tokens.decode (with the revocation check)",
    "d2": "(d) authapi.tokens.tokens.decode, verified-token cache cleared",
    "e1": "(e) revocation.is_revoked, warm (cache hit)",
    "e2": "(e) revocation.is_revoked, cold (same session)",
    "e3": "(e) revocation.is_revoked, cold (a seeded session each)",
    "f1": "(f) GET /auth/check, test client",
    "f2": "(f) GET /healthz, test client",
    "f3": "(f) GET /auth/me, test client",
}


def measure(app: Any, algorithm: str) -> list[tuple[str, float]]:
    """Every part, in the order of the check path."""
    client = app.test_client()
    login = client.post("/auth/login", json={"email": seed.email(4, 0),
                                              "password": seed.PASSWORD})
    assert login.status_code == 200, login.get_data(as_text=True)
    token = login.get_json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/auth/check", headers=headers).status_code == 200
    config = app.config
    with app.app_context():
        header = jwt.get_unverified_header(token)
        key = tokens.verification_key(header["kid"], header["alg"])
        claims = tokens.decode(token, tokens.ACCESS)
        state = app.extensions["authapi.tokens.revocation"]
        sessions = db.orm().execute(text(
            "SELECT id FROM sessions WHERE revoked_at IS NULL ORDER BY random() LIMIT 5000"
        )).scalars().all()
        seeded = cycle([{**claims, "sid": session_id} for session_id in sessions])

        def cold(next_claims: Callable[[], dict[str, Any]]) -> Callable[[], bool]:
            def run() -> bool:
                state.sessions.clear()
                return revocation.is_revoked(next_claims())
            return run

        parts: dict[str, Callable[[], Any]] = {
            "a": lambda: parse_only(token),
            "b": signature_check(algorithm, key, token),
            "c": lambda: jwt.decode(
                token, key, algorithms=[algorithm], issuer=config["AUTHAPI_ISSUER"],
                audience=config["AUTHAPI_AUDIENCE"],
                options={"require": list(core.REQUIRED[core.ACCESS])}),
            "d": lambda: tokens.decode(token, tokens.ACCESS),
        }
        verified = app.extensions["authapi.verified"]  # the cache of verified tokens

        def uncached() -> dict[str, Any]:
            verified.clear()
            return tokens.decode(token, tokens.ACCESS)

        parts["d2"] = uncached
        parts |= {
            "e1": lambda: revocation.is_revoked(claims),
            "e2": cold(lambda: claims),
            "e3": cold(lambda: next(seeded)),
        }
        assert not revocation.is_revoked(claims)
        results = per_op(parts)
    # Outside the app context: each request must push its own, as under gunicorn.
    def get(path: str) -> Callable[[], Any]:
        return lambda: client.get(path, headers=headers)

    results |= per_op({"f1": get("/auth/check"), "f2": get("/healthz"), "f3": get("/auth/me")})
    return [(LABELS[name], micros) for name, micros in results.items()]


if __name__ == "__main__":
    main()
