"""What the soak harness (bench/soak) found, kept as regressions that run in seconds."""

from __future__ import annotations

from conftest import PASSWORD


def test_a_redis_outage_leaves_the_limited_routes_answering(make_app, private_redis):
    """Redis down: login and register answer as usual (the counters move to the database)
    instead of 500, and the limits still hold there."""
    app = make_app(AUTHAPI_REDIS_URL=private_redis.url,
                   AUTHAPI_LOGIN_RATE_PER_ADDRESS="3 per minute")
    client = app.test_client()
    assert client.post("/auth/register", json={"email": "r@example.com", "password": PASSWORD}
                       ).status_code == 201
    private_redis.stop()
    statuses = [client.post("/auth/login", json={"email": "r@example.com",
                                                  "password": PASSWORD}).status_code
                for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    assert client.post("/auth/register", json={"email": "s@example.com", "password": PASSWORD}
                       ).status_code == 201
