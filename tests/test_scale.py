"""Revocation at scale: feed polls per host, not per worker; the 1 s bound without Redis."""

from __future__ import annotations

import logging
import re
import threading
import time

import pytest

from authapi.tokens import sharedcounter
from conftest import PASSWORD, bearer

FEED_SQL = re.compile(r"FROM revocation_events\s+WHERE revocation_events\.id >")
HOSTS, WORKERS, INTERVAL, WINDOW = 2, 3, 0.1, 3.0


def feed_queries(pg) -> int:
    return len(FEED_SQL.findall(pg.log()))


def first_401_within(server, token: str, seconds: float) -> float:
    """Seconds until `server` refuses the token (bounded by `seconds`)."""
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        if server.request("GET", "/auth/check", token=token)[0] == 401:
            return time.monotonic() - start
        time.sleep(0.01)
    return float("inf")


@pytest.fixture
def hosts(serve, logged_postgres, tmp_path):
    env = {"AUTHAPI_DATABASE_URL": logged_postgres.url,
           "AUTHAPI_REVOCATION_POLL_INTERVAL": str(INTERVAL)}
    return [serve("--workers", str(WORKERS), "--migrate",
                  env={**env, "AUTHAPI_INSTANCE_PATH": str(tmp_path / f"host{n}")})
            for n in range(HOSTS)]


def hammer(servers, token: str, seconds: float) -> int:
    """Keep every worker of every host busy with /auth/check for `seconds`."""
    done, count = time.monotonic() + seconds, [0]

    def client(server) -> None:
        while time.monotonic() < done:
            assert server.request("GET", "/auth/check", token=token)[0] == 200
            count[0] += 1

    threads = [threading.Thread(target=client, args=(s,)) for s in servers for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return count[0]


def test_feed_is_polled_once_per_host_not_per_worker(hosts, logged_postgres):
    credentials = {"email": "scale@example.com", "password": PASSWORD}
    assert hosts[0].request("POST", "/auth/register", credentials)[0] == 201
    token = hosts[0].request("POST", "/auth/login", credentials)[1]["access_token"]
    before = feed_queries(logged_postgres)
    requests = hammer(hosts, token, WINDOW)
    polls = feed_queries(logged_postgres) - before
    per_host = WINDOW / INTERVAL
    print(f"{requests} checks, {polls} feed queries in {WINDOW}s on {HOSTS}x{WORKERS} workers")
    assert requests > HOSTS * WORKERS * per_host  # busy enough that each worker would poll
    assert HOSTS <= polls <= HOSTS * per_host * 1.5


def test_a_revocation_reaches_the_other_host_within_a_second(hosts):
    credentials = {"email": "bound@example.com", "password": PASSWORD}
    assert hosts[0].request("POST", "/auth/register", credentials)[0] == 201
    token = hosts[0].request("POST", "/auth/login", credentials)[1]["access_token"]
    assert all(hosts[1].request("GET", "/auth/check", token=token)[0] == 200
               for _ in range(WORKERS * 2))  # warm the other host's caches
    assert hosts[0].request("POST", "/auth/logout", token=token)[0] == 204
    assert first_401_within(hosts[1], token, 3.0) < 1.0


def wait_until(condition, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition never met"
        time.sleep(0.02)


def test_the_bound_holds_when_redis_stops_in_the_middle(make_app, make_user, login,
                                                        private_redis, tmp_path):
    settings = {"AUTHAPI_REDIS_URL": private_redis.url,
                "AUTHAPI_REVOCATION_SAFETY_POLL": 3600}  # no timed poll while Redis is up
    a = make_app(**settings, AUTHAPI_INSTANCE_PATH=str(tmp_path / "a")).test_client()
    b_app = make_app(**settings, AUTHAPI_INSTANCE_PATH=str(tmp_path / "b"))
    b = b_app.test_client()
    user = make_user()
    pairs = [login(user) for _ in range(2)]
    for pair in pairs:
        assert b.get("/auth/check", headers=bearer(pair["access_token"])).status_code == 200
    nudge = b_app.extensions["authapi.tokens.revocation"].nudge
    wait_until(lambda: nudge.healthy)
    for n, pair in enumerate(pairs):
        if n == 1:
            private_redis.stop()
            wait_until(lambda: not nudge.healthy)
        headers = bearer(pair["access_token"])
        assert a.post("/auth/logout", headers=headers).status_code == 204
        start = time.monotonic()
        wait_until(lambda h=headers: b.get("/auth/check", headers=h).status_code == 401, 2.0)
        assert time.monotonic() - start < 1.0


def test_a_redis_outage_is_one_warning_not_two_a_second(private_redis, caplog):
    """While Redis stays down the listener retries every RETRY_SECONDS but warns once per
    WARN_EVERY; when Redis is back it says so once, and warns again on the next outage."""
    from authapi.tokens.broadcast import Nudge

    nudge = Nudge(private_redis.url)
    nudge.RETRY_SECONDS = 0.01
    caplog.set_level("INFO", logger="authapi.tokens.broadcast")
    before = set(threading.enumerate())
    try:
        nudge.listen()
        # Only this listener's records: other tests' listeners (daemon threads that outlive
        # their apps) may be warning about their own Redis into the same logger.
        (listener,) = [t for t in threading.enumerate() if t not in before]

        def said(level: str) -> list[logging.LogRecord]:
            return [r for r in caplog.records if r.thread == listener.ident
                    and r.levelname == level]

        wait_until(lambda: nudge.healthy)
        private_redis.stop()
        wait_until(lambda: nudge.failures >= 20)
        warnings = said("WARNING")
        assert len(warnings) == 1 and "nudges unavailable" in warnings[0].getMessage()
        private_redis.start()
        wait_until(lambda: nudge.healthy)
        assert any("nudges back after" in r.getMessage() for r in said("INFO"))
        private_redis.stop()
        wait_until(lambda: nudge.failures >= 5)
        assert len(said("WARNING")) == 2
    finally:
        nudge.RETRY_SECONDS = 3600  # the daemon thread outlives the test: let it sleep


def test_without_a_watcher_or_redis_each_process_polls_on_its_interval(app):
    state = app.extensions["authapi.tokens.revocation"]
    with app.app_context():
        state.sync()
        state.last_poll -= state.poll_interval
        assert state.due(time.monotonic())
        state.counter.stamp(sharedcounter.HEARTBEAT, time.time())  # a live watcher on the host
        assert not state.due(time.monotonic())
