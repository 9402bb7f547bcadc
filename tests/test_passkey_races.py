"""Passkey steps that must hold under concurrency: each is one conditional statement."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from authapi import db
from authapi.models import User
from conftest import bearer
from fixtures.authenticator import SoftAuthenticator, add_passkey, login_options

N = 6


def race(app, requests: list[tuple[str, str, dict]]) -> list[int]:
    """Send each (method, path, kwargs) from its own thread, released together."""
    barrier = threading.Barrier(len(requests))

    def attempt(request: tuple[str, str, dict]) -> int:
        method, path, kwargs = request
        client = app.test_client()
        barrier.wait(timeout=30)
        return getattr(client, method)(path, **kwargs).status_code

    with ThreadPoolExecutor(max_workers=len(requests)) as pool:
        return sorted(pool.map(attempt, requests))


def enroll(client, login, make_user) -> tuple[str, SoftAuthenticator, dict[str, str]]:
    user_id, authenticator = make_user(), SoftAuthenticator()
    headers = bearer(login(user_id)["access_token"])
    assert add_passkey(client, headers, authenticator).status_code == 201
    return user_id, authenticator, headers


def test_one_challenge_signs_in_once(app, client, login, make_user):
    authenticator = enroll(client, login, make_user)[1]
    options = login_options(client)
    body = {"challenge_id": options["challenge_id"],
            "credential": authenticator.get(options["publicKey"])}
    requests = [("post", "/auth/passkeys/login/verify", {"json": body})] * N
    assert race(app, requests) == [200] + [401] * (N - 1)


def test_one_counter_value_signs_in_once(app, client, login, make_user):
    authenticator = enroll(client, login, make_user)[1]
    requests = []
    for _ in range(N):  # a cloned authenticator: fresh challenges, the same counter
        options = login_options(client)
        body = {"challenge_id": options["challenge_id"],
                "credential": authenticator.get(options["publicKey"], counter=1)}
        requests.append(("post", "/auth/passkeys/login/verify", {"json": body}))
    assert race(app, requests) == [200] + [401] * (N - 1)


def test_concurrent_removals_keep_the_last_way_to_sign_in(app, client, login, make_user):
    user_id, _, headers = enroll(client, login, make_user)
    for _ in range(N - 1):
        add_passkey(client, headers, SoftAuthenticator())
    ids = [item["id"] for item in client.get("/auth/passkeys", headers=headers).get_json()["items"]]
    with app.app_context():
        db.orm().get(User, user_id).password_hash = None
        db.orm().commit()
    requests = [("delete", f"/auth/passkeys/{pid}", {"headers": headers}) for pid in ids]
    assert race(app, requests) == [204] * (N - 1) + [409]
