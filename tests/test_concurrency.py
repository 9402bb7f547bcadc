"""N real threads refresh the same token at once: exactly one wins (one conditional UPDATE)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import bearer

N = 8


def race(app, refresh_token: str) -> list[tuple[int, dict]]:
    """Post the same refresh token from N threads released together by a barrier."""
    barrier = threading.Barrier(N)

    def attempt(_index: int) -> tuple[int, dict]:
        client = app.test_client()
        barrier.wait(timeout=30)
        response = client.post("/auth/refresh", headers=bearer(refresh_token))
        return response.status_code, response.get_json()

    with ThreadPoolExecutor(max_workers=N) as pool:
        return list(pool.map(attempt, range(N)))


@pytest.fixture
def raced(app, make_user, login) -> list[tuple[int, dict]]:
    return race(app, login(make_user())["refresh_token"])


def test_exactly_one_concurrent_refresh_succeeds(raced):
    statuses = sorted(status for status, _body in raced)
    assert statuses == [200] + [401] * (N - 1), raced


def test_every_losing_refresh_is_reported_as_reuse(raced):
    codes = [body["code"] for status, body in raced if status == 401]
    assert codes == ["token_reused"] * (N - 1), codes


def test_reuse_in_the_race_revokes_the_winners_new_tokens(client, raced):
    [winner] = [body for status, body in raced if status == 200]
    me = client.get("/auth/me", headers=bearer(winner["access_token"]))
    assert me.status_code == 401
    assert me.get_json()["code"] == "token_revoked"
    again = client.post("/auth/refresh", headers=bearer(winner["refresh_token"]))
    assert again.status_code == 401
