"""Deployment knobs: Redis nudges between instances, trusted proxies, empty 204s."""

from __future__ import annotations

import time
import uuid

import pytest
import redis

from authapi import db
from authapi.accounts import users
from authapi.models import AuditEvent
from authapi.tokens.broadcast import CHANNEL
from conftest import bearer

REDIS_URL = "redis://127.0.0.1:6379/15"


def redis_available() -> bool:
    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


needs_redis = pytest.mark.skipif(not redis_available(), reason="no Redis on 127.0.0.1:6379")


def first_status_within(client, headers, seconds: float) -> tuple[int, float]:
    """Poll /auth/me until it stops answering 200, or give up after `seconds`."""
    start = time.monotonic()
    while True:
        status = client.get("/auth/me", headers=headers).status_code
        elapsed = time.monotonic() - start
        if status != 200 or elapsed > seconds:
            return status, elapsed
        time.sleep(0.005)


def wait_for_subscriber(seconds: float = 5.0) -> None:
    """B subscribes from a background thread: wait (bounded) until Redis counts it."""
    client = redis.Redis.from_url(REDIS_URL)
    deadline = time.monotonic() + seconds
    while dict(client.pubsub_numsub(CHANNEL)).get(CHANNEL.encode(), 0) < 1:
        assert time.monotonic() < deadline, "subscriber never connected"
        time.sleep(0.01)


@needs_redis
def test_redis_nudge_reaches_an_instance_that_would_not_poll_for_a_minute(
        make_app, make_user, tmp_path):
    channel_isolation = {"AUTHAPI_REDIS_URL": REDIS_URL, "AUTHAPI_REVOCATION_POLL_INTERVAL": 60}
    app_a = make_app(**channel_isolation, AUTHAPI_INSTANCE_PATH=str(tmp_path / "a"))
    app_b = make_app(**channel_isolation, AUTHAPI_INSTANCE_PATH=str(tmp_path / "b"))
    client_a, client_b = app_a.test_client(), app_b.test_client()
    user = make_user(email=f"{uuid.uuid4().hex}@example.com")
    with app_a.app_context():
        email = users.get(user).email
    pair = client_a.post("/auth/login", json={"email": email,
                                              "password": "correct horse battery staple"}).json
    headers = bearer(pair["access_token"])
    assert client_b.get("/auth/me", headers=headers).status_code == 200  # B's cache is warm
    wait_for_subscriber()
    assert client_a.post("/auth/logout", headers=headers).status_code == 204
    status, elapsed = first_status_within(client_b, headers, seconds=2.0)
    assert status == 401
    assert elapsed < 1.0


def test_without_proxies_x_forwarded_for_is_ignored(app, client, make_user):
    make_user(email="p@example.com")
    client.post("/auth/login", json={"email": "p@example.com", "password": "wrong password!"},
                headers={"X-Forwarded-For": "203.0.113.9"})
    with app.app_context():
        ips = {e.ip for e in db.orm().query(AuditEvent).filter_by(event="login_failed")}
    assert ips == {"127.0.0.1"}


def test_behind_one_trusted_proxy_the_forwarded_client_is_recorded(make_app, make_user):
    app = make_app(AUTHAPI_PROXY_COUNT=1)
    make_user(email="q@example.com")
    app.test_client().post("/auth/login", json={"email": "q@example.com",
                                                "password": "wrong password!"},
                           headers={"X-Forwarded-For": "203.0.113.9"})
    with app.app_context():
        ips = {e.ip for e in db.orm().query(AuditEvent).filter_by(event="login_failed")}
    assert ips == {"203.0.113.9"}


def test_a_204_has_no_content_type(client, auth_headers):
    response = client.post("/auth/logout", headers=auth_headers())
    assert response.status_code == 204
    assert "Content-Type" not in response.headers
