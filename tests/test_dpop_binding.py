"""DPoP at issue (RFC 9449 §5): bound logins and refreshes, the shared replay cache,
server nonces (§8), and forward-auth against the proxied request."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from authapi.db import utcnow
from authapi.tokens import dpop, replay
from conftest import PASSWORD, assert_problem
from fixtures.dpop import DpopClient, dpop_login

EMAIL = "dpop@example.com"
ME = "/auth/me"
REFRESH = "/auth/refresh"


@pytest.fixture
def key() -> DpopClient:
    return DpopClient()


@pytest.fixture
def pair(client, make_user, key):
    """A bound login's token response."""
    make_user(email=EMAIL)
    return dpop_login(client, EMAIL, key, PASSWORD)


def refresh(client, pair, key=None):
    headers = {"DPoP": key.proof("POST", REFRESH)} if key else {}
    return client.post(REFRESH, json={"refresh_token": pair["refresh_token"]}, headers=headers)


def test_a_bound_session_refreshes_with_a_proof_by_its_key(client, pair, key):
    response = refresh(client, pair, key)
    assert response.status_code == 200, response.get_json()
    token = response.get_json()
    assert token["token_type"] == "DPoP"
    assert client.get(ME, headers=key.headers("GET", ME, token["access_token"])).status_code == 200


@pytest.mark.parametrize("other", [None, DpopClient()], ids=["no proof", "other key"])
def test_a_bound_refresh_token_needs_a_proof_by_its_key(client, pair, other):
    assert_problem(refresh(client, pair, other), 401, "invalid_dpop_proof")


def test_a_refused_refresh_leaves_the_token_usable_by_its_key(client, pair, key):
    refresh(client, pair)  # a thief without the key consumes nothing
    assert refresh(client, pair, key).status_code == 200


def test_a_login_with_an_invalid_proof_is_refused(client, make_user, key):
    make_user(email=EMAIL)
    response = client.post("/auth/login", json={"email": EMAIL, "password": PASSWORD},
                           headers={"DPoP": key.proof("POST", "/auth/refresh")})
    assert_problem(response, 401, "invalid_dpop_proof")


def test_a_login_without_a_proof_stays_bearer(client, make_user, login):
    assert login(make_user())["token_type"] == "Bearer"


def test_a_proof_on_refresh_binds_an_unbound_session(client, make_user, login, key):
    pair = login(make_user())
    bound = refresh(client, pair, key).get_json()
    assert bound["token_type"] == "DPoP"
    assert_problem(refresh(client, bound), 401, "invalid_dpop_proof")


@pytest.mark.parametrize("redis_url", ["", "redis://127.0.0.1:6379/0"], ids=["database", "redis"])
def test_instances_share_the_replay_cache(make_app, make_user, key, redis_url):
    first, second = (make_app(AUTHAPI_REDIS_URL=redis_url).test_client() for _ in range(2))
    make_user(email=EMAIL)
    token = dpop_login(first, EMAIL, key, PASSWORD)["access_token"]
    headers = key.headers("GET", ME, token)
    assert first.get(ME, headers=headers).status_code == 200
    assert_problem(second.get(ME, headers=headers), 401, "invalid_dpop_proof")


def test_an_expired_replay_entry_does_not_block_its_key(app):
    with app.test_request_context():
        assert replay.first_use("k" * 64, utcnow().timestamp() - 1)
        assert replay.first_use("k" * 64, utcnow().timestamp() + 60)
        assert not replay.first_use("k" * 64, utcnow().timestamp() + 60)


def test_authapi_purge_drops_expired_replay_entries(cli, make_app, empty_database_url):
    assert cli("db", "upgrade", env={"AUTHAPI_DATABASE_URL": empty_database_url}).returncode == 0
    with make_app(AUTHAPI_DATABASE_URL=empty_database_url).test_request_context():
        replay.first_use("old", (utcnow() - timedelta(minutes=5)).timestamp())
        replay.first_use("new", (utcnow() + timedelta(minutes=5)).timestamp())
    result = cli("purge", env={"AUTHAPI_DATABASE_URL": empty_database_url})
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["dpop_proofs"] == 1


@pytest.fixture
def nonce_client(make_app, make_user):
    make_user(email=EMAIL)
    return make_app(AUTHAPI_DPOP_NONCE=1).test_client()


def login_with_nonce(client, key, nonce):
    return client.post("/auth/login", json={"email": EMAIL, "password": PASSWORD},
                       headers={"DPoP": key.proof("POST", "/auth/login", nonce=nonce)})


def test_without_the_nonce_the_server_hands_one_out(nonce_client, key):
    response = login_with_nonce(nonce_client, key, None)
    assert_problem(response, 401, "use_dpop_nonce")
    assert response.headers["WWW-Authenticate"].startswith('DPoP error="use_dpop_nonce"')
    retry = login_with_nonce(nonce_client, key, response.headers["DPoP-Nonce"])
    assert retry.status_code == 200, retry.get_json()
    assert retry.headers["DPoP-Nonce"]


@pytest.mark.parametrize(("periods_ago", "status"), [(1, 200), (2, 401)])
def test_a_nonce_lives_one_to_two_periods(nonce_client, key, periods_ago, status):
    with nonce_client.application.app_context():
        old = dpop.nonce(at=utcnow().timestamp() - periods_ago * 300)
    assert login_with_nonce(nonce_client, key, old).status_code == status


@pytest.fixture
def proxied(make_app, make_user, key):
    make_user(email=EMAIL)
    client = make_app(AUTHAPI_PROXY_COUNT=1).test_client()
    # Behind the trusted proxy the public URL is the one it forwards: the proof names it.
    response = client.post("/auth/login", json={"email": EMAIL, "password": PASSWORD},
                           headers={"X-Forwarded-Proto": "https",
                                    "X-Forwarded-Host": "auth.example.com",
                                    "DPoP": key.proof("POST", "https://auth.example.com"
                                                              "/auth/login")})
    assert response.status_code == 200, response.get_json()
    return client, response.get_json()["access_token"]


FORWARDED = {"X-Forwarded-Method": "POST", "X-Forwarded-Proto": "https",
             "X-Forwarded-Host": "app.example.com", "X-Forwarded-Uri": "/orders?id=7"}


def test_check_verifies_the_proof_against_the_proxied_request(proxied, key):
    client, token = proxied
    headers = {**FORWARDED, **key.headers("POST", "https://app.example.com/orders", token)}
    response = client.get("/auth/check", headers=headers)
    assert response.status_code == 200, response.get_json()
    assert response.headers["X-Auth-Subject"]


def test_check_refuses_a_proof_for_the_check_url_itself(proxied, key):
    client, token = proxied
    headers = {**FORWARDED, **key.headers("GET", "/auth/check", token)}
    assert_problem(client.get("/auth/check", headers=headers), 401, "invalid_dpop_proof")


def test_check_ignores_forwarded_headers_without_trusted_proxies(client, pair, key):
    token = pair["access_token"]
    headers = {**FORWARDED, **key.headers("POST", "https://app.example.com/orders", token)}
    assert_problem(client.get("/auth/check", headers=headers), 401, "invalid_dpop_proof")


def test_without_its_redis_replay_cache_dpop_fails_closed(make_app, client, pair, key):
    down = make_app(AUTHAPI_REDIS_URL="redis://127.0.0.1:1/0").test_client()
    response = down.get(ME, headers=key.headers("GET", ME, pair["access_token"]))
    assert_problem(response, 503, "service_unavailable")
