"""Login back-off: grows, is capped, cannot be stretched by knocking, resets on success."""

from __future__ import annotations

import statistics
import time

import pytest

from authapi.limits import lockout
from conftest import PASSWORD, assert_problem

WRONG = "wrong password, again"


class Clock:
    """lockout's clock, moved by the test instead of sleeping."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(lockout, "clock", fake)
    return fake


def attempt(client, email, password=WRONG):
    return client.post("/auth/login", json={"email": email, "password": password})


def fail(client, email, times, clock=None):
    """`times` failures the server judged, waiting out each back-off on the clock."""
    for _ in range(times):
        response = attempt(client, email)
        while clock is not None and response.status_code == 429:
            clock.now += retry_after(response)
            response = attempt(client, email)
        assert response.status_code == 401


def retry_after(response) -> int:
    assert_problem(response, 429, "account_locked")
    return int(response.headers["Retry-After"])


@pytest.mark.parametrize(("failures", "wait"), [(0, 0), (4, 0), (5, 1), (6, 2), (7, 4),
                                                (9, 16), (10, 900), (11, 900), (500, 900)])
def test_backoff_grows_and_is_capped(app, failures, wait):
    with app.app_context():
        assert lockout.backoff(failures) == wait


def test_after_the_backoff_the_right_password_works(client, make_user, clock):
    make_user(email="a@example.com")
    fail(client, "a@example.com", 6, clock)
    assert retry_after(attempt(client, "a@example.com", PASSWORD)) == 2
    clock.now += 2
    assert attempt(client, "a@example.com", PASSWORD).status_code == 200


def test_success_resets_the_count(client, make_user, clock):
    make_user(email="a@example.com")
    fail(client, "a@example.com", 4)
    assert attempt(client, "a@example.com", PASSWORD).status_code == 200
    fail(client, "a@example.com", 4)  # four more free failures: the count started again
    assert attempt(client, "a@example.com", PASSWORD).status_code == 200


def test_knocking_during_the_lock_does_not_extend_it(client, make_user, clock):
    make_user(email="victim@example.com")
    fail(client, "victim@example.com", 10, clock)
    locked_at = clock.now
    for _ in range(30):
        assert retry_after(attempt(client, "victim@example.com", PASSWORD)) <= 900
        clock.now += 10
    clock.now = locked_at + 900
    assert attempt(client, "victim@example.com", PASSWORD).status_code == 200


def test_a_lock_never_exceeds_the_cap(make_app, make_user, clock):
    client = make_app(AUTHAPI_LOGIN_LOCKOUT_CAP=60, AUTHAPI_LOGIN_MAX_FAILURES=3).test_client()
    make_user(email="a@example.com")
    for _ in range(20):
        response = attempt(client, "a@example.com")
        assert response.status_code == 401 or retry_after(response) <= 60
        clock.now += 60
    assert attempt(client, "a@example.com", PASSWORD).status_code == 200


def test_unknown_and_known_emails_get_the_same_answers(client, make_user, clock):
    make_user(email="known@example.com")
    answers = {}
    for email in ("known@example.com", "unknown@example.com"):
        answers[email] = [(r.status_code, r.headers.get("Retry-After")) for r in
                          (attempt(client, email) for _ in range(8))]
    assert answers["known@example.com"] == answers["unknown@example.com"]


def test_failed_logins_cost_the_same_for_unknown_and_known_emails(make_app, make_user):
    # bcrypt at cost 8 (~20 ms) dominates a request: skipping it for unknown emails
    # would halve their time. Interleaved samples cancel the machine's drift.
    client = make_app(AUTHAPI_BCRYPT_ROUNDS=8, AUTHAPI_LOGIN_BACKOFF_AFTER=100,
                      AUTHAPI_LOGIN_MAX_FAILURES=100).test_client()
    register = {"email": "known@example.com", "password": PASSWORD}
    assert client.post("/auth/register", json=register).status_code == 201  # cost 8 too
    samples: dict[str, list[float]] = {"known@example.com": [], "unknown@example.com": []}
    for _ in range(25):
        for email, times in samples.items():
            start = time.perf_counter()
            assert attempt(client, email).status_code == 401
            times.append(time.perf_counter() - start)
    known, unknown = (statistics.median(times) for times in samples.values())
    assert 0.75 < unknown / known < 1.33, (known, unknown)


def test_register_is_rate_limited_per_address(make_app):
    client = make_app(AUTHAPI_REGISTER_RATE_PER_ADDRESS="2 per minute").test_client()
    for number in range(2):
        body = {"email": f"r{number}@example.com", "password": PASSWORD}
        assert client.post("/auth/register", json=body).status_code == 201
    response = client.post("/auth/register", json={"email": "r9@example.com",
                                                    "password": PASSWORD})
    assert_problem(response, 429, "rate_limited")
    assert int(response.headers["Retry-After"]) > 0


PASSWORD_CHECKS = [
    ("/auth/password", lambda wrong: {"current_password": wrong,
                                      "new_password": "another strong passw0rd"}),
    ("/auth/mfa/totp/disable", lambda wrong: {"password": wrong}),
    ("/auth/email", lambda wrong: {"new_email": "elsewhere@example.com", "password": wrong}),
]


@pytest.mark.parametrize(("path", "body"), PASSWORD_CHECKS, ids=[p for p, _ in PASSWORD_CHECKS])
def test_a_wrong_password_on_an_account_page_counts_as_a_failed_login(client, make_user, login,
                                                                      clock, path, body):
    # The probe: 75 wrong passwords on these endpoints, no 429, no lock, a bcrypt hash each.
    make_user(email="paged@example.com")
    headers = {"Authorization": f"Bearer {login('paged@example.com')['access_token']}"}
    for _ in range(5):  # the free failures
        assert_problem(client.post(path, json=body(WRONG), headers=headers),
                       401, "invalid_credentials")
    locked = client.post(path, json=body(WRONG), headers=headers)
    assert retry_after(locked) >= 1
    # One counter: the sign-in of the same account waits too.
    assert retry_after(attempt(client, "paged@example.com", PASSWORD)) >= 1


def test_failed_logins_and_account_page_checks_share_one_counter(client, make_user, login,
                                                                 clock):
    make_user(email="shared@example.com")
    headers = {"Authorization": f"Bearer {login('shared@example.com')['access_token']}"}
    fail(client, "shared@example.com", 4)
    assert_problem(client.post("/auth/password", headers=headers, json={
        "current_password": WRONG, "new_password": "another strong passw0rd"}),
        401, "invalid_credentials")
    assert retry_after(attempt(client, "shared@example.com", PASSWORD)) >= 1
