"""Limits hold across processes: two `authapi serve` instances on one database, no Redis."""

from __future__ import annotations

from conftest import PASSWORD

WRONG = {"password": "wrong password, again"}


def two_instances(serve, tmp_path, **settings: str):
    env = {"AUTHAPI_DATABASE_URL": f"sqlite:///{tmp_path / 'shared.db'}", **settings}
    return [serve("--workers", "2", "--migrate", env=env) for _ in range(2)]


def test_the_per_address_limit_is_counted_once_across_instances(serve, tmp_path):
    servers = two_instances(serve, tmp_path, AUTHAPI_LOGIN_RATE_PER_ADDRESS="3 per minute")
    body = {"email": "nobody@example.com", **WRONG}
    got = [servers[n % 2].request("POST", "/auth/login", body)[0] for n in range(8)]
    assert got == [401, 401, 401, 429, 429, 429, 429, 429]


def test_the_account_backoff_is_shared_across_instances(serve, tmp_path):
    a, b = two_instances(serve, tmp_path, AUTHAPI_LOGIN_MAX_FAILURES="2",
                         AUTHAPI_LOGIN_BACKOFF_AFTER="2")
    credentials = {"email": "v@example.com", "password": PASSWORD}
    assert a.request("POST", "/auth/register", credentials)[0] == 201
    for server in (a, b):
        assert server.request("POST", "/auth/login", {**credentials, **WRONG})[0] == 401
    status, body = a.request("POST", "/auth/login", credentials)
    assert (status, body["code"]) == (429, "account_locked")
