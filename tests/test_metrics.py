"""/metrics: Prometheus text format, parsed by prometheus-client's own parser."""

from __future__ import annotations

import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from conftest import PASSWORD, assert_problem, bearer
from fixtures.smtp import free_port

FAMILIES = ("authapi_http_requests", "authapi_http_request_duration_seconds",
            "authapi_logins", "authapi_tokens_issued", "authapi_revocations",
            "authapi_refresh_reuse_detections", "authapi_rate_limit_hits",
            "authapi_revocation_cache_lookups")


def scrape(client) -> dict[tuple[str, frozenset], float]:
    """Every sample of /metrics, keyed by (sample name, labels)."""
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain")
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(response.get_data(as_text=True))
            for s in family.samples}


def value(samples, name: str, **labels: str) -> float:
    """One sample's value, 0 when the series does not exist yet."""
    return samples.get((name, frozenset(labels.items())), 0.0)


def delta(client, action, name: str, **labels: str) -> float:
    """How much one sample grows while `action` runs."""
    before = value(scrape(client), name, **labels)
    action()
    return value(scrape(client), name, **labels) - before


def test_metrics_parse_and_name_every_family(client):
    response = client.get("/metrics")
    names = {family.name for family in
             text_string_to_metric_families(response.get_data(as_text=True))}
    assert set(FAMILIES) <= names
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize(("method", "path", "route", "status"), [
    ("DELETE", "/auth/sessions/1234", "/auth/sessions/<string:session_id>", "401"),
    ("GET", "/no/such/path/42", "unmatched", "404"),
    ("BREW", "/healthz", "unmatched", "405"),  # routing failed: no rule matched
])
def test_requests_are_counted_by_url_rule_not_raw_path(client, method, path, route, status):
    expected = "OTHER" if method == "BREW" else method
    grew = delta(client, lambda: client.open(path, method=method),
                 "authapi_http_requests_total", method=expected, route=route, status=status)
    assert grew == 1


def test_latency_histogram_counts_the_request(client):
    grew = delta(client, lambda: client.get("/healthz"),
                 "authapi_http_request_duration_seconds_count",
                 method="GET", route="/healthz", status="200")
    assert grew == 1


@pytest.mark.parametrize(("email", "password", "outcome"), [
    ("known@example.com", PASSWORD, "success"),
    ("known@example.com", "wrong password!", "wrong_password"),
    ("nobody@example.com", PASSWORD, "unknown_email"),
])
def test_logins_are_counted_by_outcome(client, make_user, email, password, outcome):
    make_user(email="known@example.com")
    grew = delta(client, lambda: client.post("/auth/login",
                                             json={"email": email, "password": password}),
                 "authapi_logins_total", method="password", outcome=outcome)
    assert grew == 1


@pytest.mark.parametrize("kind", ["access", "refresh"])
def test_tokens_issued_are_counted_by_type(client, make_user, login, kind):
    user = make_user()
    assert delta(client, lambda: login(user), "authapi_tokens_issued_total", type=kind) == 1


def test_logout_counts_a_revocation(client, make_user, login):
    access = login(make_user())["access_token"]
    grew = delta(client, lambda: client.post("/auth/logout", headers=bearer(access)),
                 "authapi_revocations_total", kind="session")
    assert grew == 1


def test_refresh_reuse_is_counted(client, make_user, login):
    refresh = login(make_user())["refresh_token"]
    client.post("/auth/refresh", headers=bearer(refresh))
    grew = delta(client, lambda: client.post("/auth/refresh", headers=bearer(refresh)),
                 "authapi_refresh_reuse_detections_total")
    assert grew == 1


def test_account_lockout_counts_a_rate_limit_hit(make_app, make_user):
    client = make_app(AUTHAPI_LOGIN_MAX_FAILURES=1).test_client()
    make_user(email="locked@example.com")
    wrong = {"email": "locked@example.com", "password": "not the password"}
    client.post("/auth/login", json=wrong)
    responses = []
    grew = delta(client, lambda: responses.append(client.post("/auth/login", json=wrong)),
                 "authapi_rate_limit_hits_total", limit="login-account")
    assert_problem(responses[0], 429, "account_locked")
    assert grew == 1


def test_address_limit_counts_a_rate_limit_hit(make_app):
    client = make_app(AUTHAPI_LOGIN_RATE_PER_ADDRESS="1 per minute").test_client()
    body = {"email": "x@example.com", "password": PASSWORD}
    client.post("/auth/login", json=body)
    responses = []
    grew = delta(client, lambda: responses.append(client.post("/auth/login", json=body)),
                 "authapi_rate_limit_hits_total", limit="login-address")
    assert_problem(responses[0], 429, "rate_limited")
    assert grew == 1


def test_revocation_cache_counts_a_miss_then_hits(client, make_user, login):
    headers = bearer(login(make_user())["access_token"])
    before = scrape(client)
    for _ in range(3):
        client.get("/auth/me", headers=headers)
    after = scrape(client)
    grown = {result: value(after, "authapi_revocation_cache_lookups_total", result=result)
             - value(before, "authapi_revocation_cache_lookups_total", result=result)
             for result in ("hit", "miss")}
    assert grown == {"hit": 2, "miss": 1}


def live_count(server) -> float:
    """GET /healthz answers counted by a live server's /metrics."""
    with urllib.request.urlopen(server.base_url + "/metrics", timeout=10) as response:  # noqa: S310
        text = response.read().decode()
    samples = {(s.name, frozenset(s.labels.items())): s.value
               for family in text_string_to_metric_families(text) for s in family.samples}
    return value(samples, "authapi_http_requests_total", method="GET", route="/healthz",
                 status="200")


def test_gunicorn_workers_are_summed_in_multiprocess_mode(serve, tmp_path):
    server = serve("--workers", "2")
    before = live_count(server)
    for _ in range(20):
        assert server.request("GET", "/healthz")[0] == 200
    assert live_count(server) - before == 20
    assert list((tmp_path / "cli-instance" / "prometheus").glob("counter_*.db"))


PRODUCTION = {"AUTHAPI_ENV": "production", "AUTHAPI_SECRET_KEY": "s" * 48,
              "AUTHAPI_MAIL_URL": "smtp://127.0.0.1:1", "AUTHAPI_METRICS_PORT": 9464}


@pytest.mark.parametrize(("port", "status"), [("8000", 404), ("9464", 200)])
def test_in_production_metrics_answer_only_on_the_metrics_port(make_app, port, status):
    # The probe: /metrics on the API port published login outcomes to anyone.
    client = make_app(**PRODUCTION).test_client()
    response = client.get("/metrics", environ_overrides={"SERVER_PORT": port})
    assert response.status_code == status
    if status == 404:
        assert_problem(response, 404, "not_found")


def test_outside_production_metrics_answer_on_the_api_port(client):
    assert client.get("/metrics", environ_overrides={"SERVER_PORT": "8000"}).status_code == 200


def test_serve_in_production_binds_the_metrics_listener(serve):
    metrics_port = free_port()
    server = serve(env={**{k: str(v) for k, v in PRODUCTION.items()},
                        "AUTHAPI_METRICS_PORT": str(metrics_port)})
    assert server.request("GET", "/metrics")[0] == 404
    url = f"http://127.0.0.1:{metrics_port}/metrics"
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310
        assert response.status == 200
        assert b"authapi_http_requests" in response.read()
