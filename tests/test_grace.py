"""AUTHAPI_REFRESH_GRACE: the just-rotated refresh token answers the same pair, byte for byte."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import jwt
import pytest
from sqlalchemy import select, update

from authapi import db
from authapi.config import ConfigError
from authapi.db import utcnow
from authapi.models import RefreshGrace
from authapi.sessions import grace
from authapi.tokens import secretbox
from conftest import PASSWORD, assert_problem, bearer

N = 8
GRACE = 30


def refresh(client, token):
    return client.post("/auth/refresh", headers=bearer(token))


def race(app, token: str) -> list[tuple[int, bytes]]:
    """Post one refresh token from N threads released together; (status, raw body) each."""
    barrier = threading.Barrier(N)

    def attempt(_index: int) -> tuple[int, bytes]:
        client = app.test_client()
        barrier.wait(timeout=30)
        response = refresh(client, token)
        return response.status_code, response.get_data()

    with ThreadPoolExecutor(max_workers=N) as pool:
        return list(pool.map(attempt, range(N)))


@pytest.fixture
def graced(make_app):
    return make_app(AUTHAPI_REFRESH_GRACE=GRACE)


@pytest.fixture
def client(graced):
    return graced.test_client()


@pytest.fixture
def pair(make_user, client):
    make_user(email="g@example.com")
    response = client.post("/auth/login", json={"email": "g@example.com", "password": PASSWORD})
    return response.get_json()


def test_without_grace_concurrent_refreshes_give_exactly_one_success(app, make_user, login):
    statuses = sorted(status for status, _ in race(app, login(make_user())["refresh_token"]))
    assert statuses == [200] + [401] * (N - 1)


def test_with_grace_concurrent_refreshes_all_get_the_same_pair(graced, client, pair):
    results = race(graced, pair["refresh_token"])
    assert {status for status, _ in results} == {200}, results
    assert len({body for _, body in results}) == 1
    successor = client.get("/auth/me", headers=bearer(refresh_body(results)["access_token"]))
    assert successor.status_code == 200


def refresh_body(results):
    return json.loads(results[0][1])


def test_with_grace_the_race_starts_no_second_chain(graced, client, pair):
    results = race(graced, pair["refresh_token"])
    new = refresh_body(results)
    assert refresh(client, new["refresh_token"]).status_code == 200
    assert_problem(refresh(client, pair["refresh_token"]), 401, "token_reused")


@pytest.mark.parametrize("algorithm", ["RS256", "ES256", "EdDSA", "HS256"])
def test_replay_inside_the_window_is_byte_for_byte(make_app, make_user, algorithm):
    client = make_app(AUTHAPI_REFRESH_GRACE=GRACE, AUTHAPI_JWT_ALGORITHM=algorithm).test_client()
    make_user(email="a@example.com")
    token = client.post("/auth/login", json={"email": "a@example.com", "password": PASSWORD}
                        ).get_json()["refresh_token"]
    first, again = refresh(client, token), refresh(client, token)
    assert (first.status_code, again.status_code) == (200, 200)
    assert first.get_data() == again.get_data()


def test_an_older_token_is_reuse_even_inside_the_window(client, pair):
    second = refresh(client, pair["refresh_token"]).get_json()
    third = refresh(client, second["refresh_token"]).get_json()
    assert_problem(refresh(client, pair["refresh_token"]), 401, "token_reused")
    assert_problem(client.get("/auth/me", headers=bearer(third["access_token"])),
                   401, "token_revoked")


def test_the_just_rotated_token_is_reuse_once_its_successor_was_used(client, pair):
    second = refresh(client, pair["refresh_token"]).get_json()
    assert refresh(client, second["refresh_token"]).status_code == 200
    assert refresh(client, second["refresh_token"]).status_code == 200  # the new just-rotated
    assert_problem(refresh(client, pair["refresh_token"]), 401, "token_reused")


def test_after_the_window_the_just_rotated_token_is_reuse(graced, client, pair):
    second = refresh(client, pair["refresh_token"]).get_json()
    with graced.app_context():
        db.affected(update(RefreshGrace).values(
            rotated_at=utcnow() - timedelta(seconds=GRACE + 1)))
        db.orm().commit()
    assert_problem(refresh(client, pair["refresh_token"]), 401, "token_reused")
    assert_problem(refresh(client, second["refresh_token"]), 401, "token_revoked")


def test_no_replay_for_a_logged_out_session(client, pair):
    refresh(client, pair["refresh_token"])
    assert client.post("/auth/logout", headers=bearer(pair["access_token"])).status_code == 204
    assert_problem(refresh(client, pair["refresh_token"]), 401, "token_revoked")


def test_the_successor_is_stored_encrypted(graced, client, pair):
    new = refresh(client, pair["refresh_token"]).get_json()
    with graced.app_context():
        stored = db.orm().scalar(select(RefreshGrace.successor))
    assert new["refresh_token"] not in stored and new["access_token"] not in stored
    assert new["refresh_token"].split(".")[1] not in stored
    with graced.app_context():
        assert secretbox.unseal(stored, grace.PURPOSE).count(new["refresh_token"]) == 1


def test_without_grace_nothing_is_kept(app, client, make_user, login):
    client = app.test_client()
    assert refresh(client, login(make_user())["refresh_token"]).status_code == 200
    with app.app_context():
        assert db.orm().scalar(select(RefreshGrace.session_id)) is None


def test_a_new_secret_key_ends_the_window(graced, make_app, pair):
    assert refresh(graced.test_client(), pair["refresh_token"]).status_code == 200
    other = make_app(AUTHAPI_REFRESH_GRACE=GRACE, AUTHAPI_SECRET_KEY="k" * 40,
                     AUTHAPI_JWT_ALGORITHM="RS256").test_client()
    # Under a new secret the refresh token's key (derived from a signing key stored
    # under the old secret) is gone, so it is refused before any grace could apply.
    assert_problem(refresh(other, pair["refresh_token"]), 401, "token_invalid")


def test_cookie_replay_sets_the_same_cookies(client, make_user):
    make_user(email="c@example.com")
    client.post("/auth/login", json={"email": "c@example.com", "password": PASSWORD,
                                     "use_cookies": True})
    csrf = {"X-CSRF-TOKEN": client.get_cookie("csrf_refresh_token").value}
    old = client.get_cookie("refresh_token_cookie", path="/auth").value
    first = client.post("/auth/refresh", headers=csrf)
    client.set_cookie("refresh_token_cookie", old, path="/auth")
    again = client.post("/auth/refresh", headers=csrf)
    assert (first.status_code, again.status_code) == (200, 200)
    assert set_cookies(first) == set_cookies(again)
    assert first.get_data() == again.get_data()


def set_cookies(response) -> list[list[str]]:
    """Each Set-Cookie header's value and attributes, without `Expires` (it follows the clock)."""
    return [[part.strip() for part in header.split(";") if not part.strip().startswith("Expires=")]
            for header in response.headers.getlist("Set-Cookie")]


@pytest.mark.parametrize("seconds", [-1, 301, "soon"])
def test_a_bad_grace_setting_is_refused(make_app, seconds):
    with pytest.raises(ConfigError, match="AUTHAPI_REFRESH_GRACE"):
        make_app(AUTHAPI_REFRESH_GRACE=seconds)


def test_two_processes_sharing_postgresql_answer_the_same_pair(serve, empty_database_url,
                                                               tmp_path):
    if empty_database_url.startswith("sqlite"):
        pytest.skip("two instances share a database only on PostgreSQL "
                    "(set AUTHAPI_TEST_DATABASE_URL)")
    shared = {"AUTHAPI_DATABASE_URL": empty_database_url, "AUTHAPI_REFRESH_GRACE": str(GRACE)}
    servers = [serve("--workers", "2", *flags, env={**shared, "AUTHAPI_INSTANCE_PATH": str(
        tmp_path / name)}) for name, flags in (("a", ["--migrate"]), ("b", []))]
    credentials = {"email": "two@example.com", "password": PASSWORD}
    assert servers[0].request("POST", "/auth/register", credentials)[0] == 201
    token = servers[1].request("POST", "/auth/login", credentials)[1]["refresh_token"]
    barrier = threading.Barrier(N)

    def attempt(index: int) -> tuple[int, dict]:
        barrier.wait(timeout=30)
        return servers[index % 2].request("POST", "/auth/refresh", token=token)

    with ThreadPoolExecutor(max_workers=N) as pool:
        results = list(pool.map(attempt, range(N)))
    assert {status for status, _ in results} == {200}, results
    assert len({body["refresh_token"] for _, body in results}) == 1
    assert len({body["access_token"] for _, body in results}) == 1
    new = results[0][1]["refresh_token"]
    assert servers[0].request("POST", "/auth/refresh", token=new)[0] == 200
    assert servers[1].request("POST", "/auth/refresh", token=token)[1]["code"] == "token_reused"
    assert jwt.decode(new, options={"verify_signature": False})["type"] == "refresh"
