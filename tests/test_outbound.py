"""Outbound fetches (issue 20, item 5): a client's `jwks_url` is fetched off the request
thread, bounded in time and size, cached, refetched at most once a minute on an unknown
kid, and never from a private, loopback or link-local address outside development, also
after a redirect. Real HTTP servers on loopback; no fetch is mocked.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from authapi import db, outbound
from authapi.outbound import DocumentCache, FetchFailed, Policy
from conftest import assert_problem
from fixtures.oauth import assert_oauth_error

LOOPBACK = Policy(timeout=0.5, allow_private=True, https_only=False)
JWKS = {"keys": [{"kty": "oct", "kid": "a", "k": "c2VjcmV0"}]}


class Host:
    """A real HTTP server on loopback whose answer a test sets: (status, headers, body,
    seconds to wait before answering, seconds between bytes)."""

    def __init__(self, address: str = "127.0.0.1") -> None:
        self.answer: tuple[int, dict[str, str], bytes, float, float] = (
            200, {}, json.dumps(JWKS).encode(), 0.0, 0.0)
        self.hits = 0
        host = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                host.hits += 1
                status, headers, body, wait, drip = host.answer
                time.sleep(wait)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    if drip:
                        for byte in body:
                            self.wfile.write(bytes([byte]))
                            self.wfile.flush()
                            time.sleep(drip)
                    else:
                        self.wfile.write(body)
                except OSError:
                    pass  # the fetch gave up on us

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer((address, 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://{address}:{self.server.server_port}/jwks.json"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def set(self, status: int = 200, headers: dict[str, str] | None = None,
            body: Any = JWKS, wait: float = 0.0, drip: float = 0.0) -> None:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.answer = (status, headers or {}, raw, wait, drip)


@pytest.fixture
def host() -> Iterator[Host]:
    served = Host()
    yield served
    served.close()


# --- which URLs may be fetched -----------------------------------------------------------

PRODUCTION = Policy()


@pytest.mark.parametrize("url", [
    "https://127.0.0.1/jwks", "https://10.0.0.8/jwks", "https://192.168.1.1/jwks",
    "https://172.16.0.1/jwks", "https://169.254.169.254/latest/meta-data",
    "https://[::1]/jwks", "https://[fe80::1]/jwks", "https://[::ffff:127.0.0.1]/jwks",
    "https://[fc00::1]/jwks", "https://0.0.0.0/jwks", "https://100.64.0.1/jwks",
    "https://localhost/jwks", "https://keys.localhost/jwks", "https://224.0.0.1/jwks",
])
def test_private_loopback_and_link_local_addresses_are_refused(url):
    with pytest.raises(FetchFailed, match="private|loopback|link-local"):
        outbound.check_url(url, PRODUCTION)


@pytest.mark.parametrize("url", [
    "http://keys.example.com/jwks", "ftp://keys.example.com/jwks", "file:///etc/passwd",
    "https://user:pw@keys.example.com/jwks", "https:///jwks", "https://[::1/jwks",
])
def test_only_plain_https_urls_are_fetched_outside_development(url):
    with pytest.raises(FetchFailed):
        outbound.check_url(url, PRODUCTION)


def test_a_public_https_url_passes_the_check():
    assert outbound.check_url("https://keys.example.com:8443/jwks.json", PRODUCTION) == (
        "https", "keys.example.com", 8443)


def test_development_may_fetch_from_loopback(host):
    assert outbound.fetch_json(host.url, LOOPBACK).body == JWKS


def test_a_name_that_resolves_to_loopback_is_refused(host):
    # The name passes the literal check; what it resolves to does not.
    name = "localhost"
    for candidate in (socket.gethostname(), "ip6-localhost"):
        try:
            if all(not outbound.address_allowed(info[4][0])
                   for info in socket.getaddrinfo(candidate, 80)):
                name = candidate
                break
        except OSError:
            continue
    if name == "localhost":
        pytest.skip("no name here resolves only to a non-global address")
    url = host.url.replace("127.0.0.1", name)
    with pytest.raises(FetchFailed, match="resolves to a private"):
        outbound.fetch_json(url, Policy(timeout=0.5, https_only=False))


def test_a_redirect_to_a_private_address_is_refused(host, monkeypatch):
    # 127.0.0.1 stands for a public host here and 127.0.0.2 for an internal one: the
    # redirect is checked as the first hop was.
    monkeypatch.setattr(outbound, "address_allowed", lambda address: address == "127.0.0.1")
    internal = Host("127.0.0.2")
    try:
        host.set(302, {"Location": internal.url})
        policy = Policy(timeout=0.5, https_only=False)
        with pytest.raises(FetchFailed, match="private"):
            outbound.fetch_json(host.url, policy)
        assert internal.hits == 0
        host.set(302, {"Location": host.url.replace("/jwks.json", "/moved.json")})
        with pytest.raises(FetchFailed, match="redirects"):
            outbound.fetch_json(host.url, policy)
    finally:
        internal.close()


def test_a_redirect_to_an_allowed_host_is_followed(host):
    other = Host()
    try:
        host.set(307, {"Location": other.url})
        assert outbound.fetch_json(host.url, LOOPBACK).body == JWKS
        assert other.hits == 1
    finally:
        other.close()


# --- bounds ------------------------------------------------------------------------------

def test_a_document_over_the_size_limit_is_refused(host):
    host.set(body={"keys": [], "pad": "x" * 70_000})
    with pytest.raises(FetchFailed, match="larger than"):
        outbound.fetch_json(host.url, LOOPBACK)


@pytest.mark.parametrize(("answer", "reason"), [
    ({"status": 404}, "answered 404"), ({"body": b"<html>"}, "not JSON"),
    ({"status": 302}, "without a Location"),
])
def test_a_bad_answer_is_a_clear_failure(host, answer, reason):
    host.set(**answer)
    with pytest.raises(FetchFailed, match=reason):
        outbound.fetch_json(host.url, LOOPBACK)


def test_a_slow_drip_is_cut_at_the_deadline(host):
    host.set(drip=0.05)  # ~70 bytes: 3.5 s at this pace
    started = time.monotonic()
    with pytest.raises(FetchFailed):
        outbound.fetch_json(host.url, LOOPBACK)
    assert time.monotonic() - started < 1.5


def test_a_dead_port_is_a_failure_not_an_error():
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    with pytest.raises(FetchFailed, match="could not be reached"):
        outbound.fetch_json(f"http://127.0.0.1:{port}/jwks.json", LOOPBACK)


@pytest.mark.parametrize(("header", "ttl"), [
    (None, 300), ("max-age=60", 300), ("public, max-age=3600", 3600),
    ("max-age=999999999", 86_400), ("no-store", 300), ("no-cache, max-age=7200", 300),
    ("max-age=abc", 300),
])
def test_the_cache_lifetime_follows_cache_control_within_bounds(host, header, ttl):
    host.set(headers={"Cache-Control": header} if header else {})
    assert outbound.fetch_json(host.url, LOOPBACK).ttl == ttl


# --- the cache ---------------------------------------------------------------------------

class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clocked(host) -> Callable[..., tuple[DocumentCache, Clock]]:
    def make(**policy: Any) -> tuple[DocumentCache, Clock]:
        clock = Clock()
        return DocumentCache(Policy(**{"timeout": 0.5, "allow_private": True,
                                       "https_only": False, **policy}),
                             clock=clock), clock

    return make


def test_a_fresh_document_is_served_from_the_cache(host, clocked):
    cache, clock = clocked()
    assert cache.get(host.url) == JWKS
    clock.now += 299
    assert cache.get(host.url) == JWKS and host.hits == 1
    clock.now += 2
    cache.get(host.url)
    assert host.hits == 2


def test_an_unknown_kid_refetches_at_most_once_a_minute(host, clocked):
    cache, clock = clocked()
    cache.get(host.url)
    for _ in range(20):
        cache.get(host.url, refresh=True)
    assert host.hits == 1  # the first fetch was just now
    clock.now += 61
    for _ in range(20):
        cache.get(host.url, refresh=True)
    assert host.hits == 2


def test_a_slow_host_costs_one_wait_then_answers_at_once(host, clocked):
    cache, clock = clocked()
    host.set(wait=3)
    started = time.monotonic()
    with pytest.raises(FetchFailed, match="too slowly|could not be reached"):
        cache.get(host.url)
    assert time.monotonic() - started < 1.0  # the timeout, not the host, decides
    started = time.monotonic()
    for _ in range(10):
        with pytest.raises(FetchFailed):
            cache.get(host.url)
    assert time.monotonic() - started < 0.1 and host.hits == 1


def test_concurrent_requests_share_one_fetch(host, clocked):
    cache, _ = clocked(timeout=2.0)
    host.set(wait=0.3)
    results: list[Any] = []
    threads = [threading.Thread(target=lambda: results.append(cache.get(host.url)))
               for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [JWKS] * 8 and host.hits == 1


def test_a_good_document_outlives_a_failed_refetch_but_not_for_ever(host, clocked):
    cache, clock = clocked()
    assert cache.get(host.url) == JWKS
    host.set(status=500)
    clock.now += 301
    assert cache.get(host.url) == JWKS  # stale while the host is down
    clock.now += 86_400
    with pytest.raises(FetchFailed, match="500"):
        cache.get(host.url)


# --- through the token endpoint ----------------------------------------------------------

def register(app, url):
    from authapi.oauth import clients
    with app.app_context():
        created = clients.create("remote", "a", jwks_url=url)
        db.orm().commit()
    return created


@pytest.fixture
def keyed_host(keypair) -> Iterator[Host]:
    served = Host()
    served.set(body=keypair.jwks)
    yield served
    served.close()


def test_a_jwks_url_client_authenticates_in_development(make_app, keypair, keyed_host):
    from test_oauth_token import assertion_form

    app = make_app(AUTHAPI_ENV="development")
    registered = register(app, keyed_host.url)
    client = app.test_client()
    for _ in range(3):
        form = assertion_form(keypair.assertion(registered["client_id"]))
        assert client.post("/oauth/token", data=form).status_code == 200
    assert keyed_host.hits == 1  # cached


def test_junk_assertions_fetch_nothing(make_app, keypair, keyed_host):
    import jwt as pyjwt

    from test_oauth_token import assertion_form

    app = make_app(AUTHAPI_ENV="development")
    registered = register(app, keyed_host.url)
    client = app.test_client()
    junk = pyjwt.encode({"iss": registered["client_id"], "sub": "someone-else", "aud": "x",
                         "exp": 1, "jti": "j"}, "k" * 32, algorithm="HS256", headers={"kid": "zz"})
    for _ in range(5):
        assert_oauth_error(client.post("/oauth/token", data=assertion_form(junk)),
                           401, "invalid_client")
    assert keyed_host.hits == 0


def test_a_slow_key_host_delays_its_own_client_once(make_app, keypair, keyed_host):
    from test_oauth_token import assertion_form

    app = make_app(AUTHAPI_ENV="development")
    registered = register(app, keyed_host.url)
    keyed_host.set(body=keypair.jwks, wait=4)
    client = app.test_client()
    started = time.monotonic()
    form = assertion_form(keypair.assertion(registered["client_id"]))
    assert_oauth_error(client.post("/oauth/token", data=form), 401, "invalid_client")
    assert time.monotonic() - started < 3.0  # the 2 s timeout, not the host's 4 s
    started = time.monotonic()
    form = assertion_form(keypair.assertion(registered["client_id"]))
    assert_oauth_error(client.post("/oauth/token", data=form), 401, "invalid_client")
    assert time.monotonic() - started < 0.5  # no second wait within the minute


def test_outside_development_a_loopback_jwks_url_is_refused_at_registration(client,
                                                                           auth_headers,
                                                                           keyed_host):
    response = client.post("/admin/clients", headers=auth_headers(("admin",)),
                           json={"name": "svc", "scope": "", "jwks_url": keyed_host.url})
    body = assert_problem(response, 422, "validation_error")
    assert "jwks_url" in body["errors"]
    https = keyed_host.url.replace("http://", "https://")
    response = client.post("/admin/clients", headers=auth_headers(("admin",)),
                           json={"name": "svc", "scope": "", "jwks_url": https})
    assert "loopback" in assert_problem(response, 422, "validation_error")["errors"][
        "jwks_url"][0]


def test_outside_development_a_loopback_key_host_is_never_asked(make_app, keypair, keyed_host):
    """A client registered in development, served by a production app: refused at fetch."""
    from test_oauth_token import assertion_form

    registered = register(make_app(AUTHAPI_ENV="development"), keyed_host.url)
    app = make_app()  # testing: outside development
    form = assertion_form(keypair.assertion(registered["client_id"]))
    assert_oauth_error(app.test_client().post("/oauth/token", data=form), 401, "invalid_client")
    assert keyed_host.hits == 0
