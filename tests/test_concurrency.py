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


def refresh_during_role_change(app, make_user, login, hold) -> str:
    """Demote an admin while that admin's refresh runs: `hold(holding, release)` installs
    the point where the role change stops (setting `holding`, then waiting for
    `release`); the refresh starts once it is held and goes until it is done or waits on
    the change's lock. Returns the refreshed access token. PostgreSQL only: SQLite's one
    writer makes a refresh wait for a role change whole."""
    if not app.config["AUTHAPI_DATABASE_URL"].startswith("postgresql"):
        pytest.skip("a row-lock interleaving of PostgreSQL; SQLite has one writer")
    import time

    from sqlalchemy import text

    from authapi import db

    actor = login(make_user(roles=("admin",)))["access_token"]
    demoted = make_user(roles=("admin", "user"))
    pair = login(demoted)
    holding, release = threading.Event(), threading.Event()
    hold(holding, release)
    answers: dict[str, object] = {}

    def change_roles() -> None:
        answers["admin"] = app.test_client().put(
            f"/admin/users/{demoted}/roles", json={"roles": ["user"]},
            headers=bearer(actor)).status_code

    def refresh() -> None:
        response = app.test_client().post("/auth/refresh",
                                          headers=bearer(pair["refresh_token"]))
        answers["refresh"] = (response.status_code, response.get_json())

    admin = threading.Thread(target=change_roles, name="admin")
    admin.start()
    assert holding.wait(20)
    refresher = threading.Thread(target=refresh, name="refresh")
    refresher.start()
    waiting = text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                   "AND query LIKE '%UPDATE sessions%'")
    with app.app_context(), db.engine().connect() as watcher:
        deadline = time.monotonic() + 20
        while refresher.is_alive() and not watcher.execute(waiting).scalar():
            assert time.monotonic() < deadline, "the refresh neither ended nor waited"
            time.sleep(0.01)
    release.set()
    admin.join(20)
    refresher.join(20)
    assert answers["admin"] == 200
    status, body = answers["refresh"]
    assert status == 200, body
    return str(body["access_token"])


def test_a_refresh_racing_a_role_change_never_keeps_the_old_roles(app, make_user, login,
                                                                  monkeypatch):
    """The change holds the session row when the refresh's rotating UPDATE starts, which
    waits for it. The roles that statement read were the ones before the change, in a
    token minted after its cut-off: a demoted admin kept admin for one access TTL (a
    review). The statement now sees the session's cut-off move and reads them again."""
    from authapi.tokens import revocation

    real = revocation.record_sessions

    def hold(holding, release):
        def held(session, ids):  # the sessions updated and locked, nothing committed
            real(session, ids)
            if threading.current_thread().name == "admin":
                holding.set()
                assert release.wait(20)
        monkeypatch.setattr(revocation, "record_sessions", held)

    token = refresh_during_role_change(app, make_user, login, hold)
    assert app.test_client().get("/admin/users", headers=bearer(token)).status_code in (401, 403)


def test_a_refresh_between_a_role_changes_clock_and_its_lock_is_voided(app, make_user, login,
                                                                       monkeypatch):
    """The other order: the change has read its cut-off time, and a refresh rotates
    before the change reaches the session row, with the roles from before it and a later
    mint time. The change now locks the live sessions before it reads the clock, so such
    a refresh waits for it (and reads the new roles)."""
    import sys

    from authapi.sessions import sessions

    real = sessions.utcnow

    def hold(holding, release):
        def clock():  # the change's cut-off read, in _void
            now = real()
            if threading.current_thread().name == "admin" and \
                    sys._getframe(1).f_code.co_name == "_void":
                holding.set()
                assert release.wait(20)
            return now
        monkeypatch.setattr(sessions, "utcnow", clock)

    token = refresh_during_role_change(app, make_user, login, hold)
    assert app.test_client().get("/admin/users", headers=bearer(token)).status_code in (401, 403)
