"""Outbound fetches of documents that clients name by URL (a `jwks_url` now, client
metadata documents next): the one way authapi reaches out to a host it does not run.

What a client registers is attacker-controlled input, so every fetch:
- resolves the host once and refuses a private, loopback, link-local or otherwise
  non-global address (outside development), then connects to that very address (no
  second look-up for DNS rebinding to change), TLS still checked against the host name;
- re-checks every redirect (at most MAX_REDIRECTS) the same way;
- is bounded in time (the whole fetch, slow drips included) and in size;
- runs on a small pool of background threads, so a request waits at most the timeout
  and then answers; concurrent requests for one URL share one fetch (single flight);
- is cached as the answer's `Cache-Control: max-age` says, clamped to [min_ttl,
  max_ttl] (`no-store` and `no-cache`: min_ttl, which may be 0); a failed fetch is
  not retried for `retry_after` seconds (the last good document is kept meanwhile),
  so a dead or slow host costs one wait per minute, not
  one per request, and delays no other client.
"""

from __future__ import annotations

import ipaddress
import json
import re
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urljoin, urlsplit

import urllib3

MAX_REDIRECTS = 3
POOL_THREADS = 4
MAX_AGE = re.compile(r"(?:^|,)\s*max-age\s*=\s*\"?(\d{1,10})\"?", re.IGNORECASE)
NO_CACHE = re.compile(r"(?:^|,)\s*(?:no-store|no-cache)\b", re.IGNORECASE)
USER_AGENT = "authapi (outbound fetch)"


class FetchFailed(Exception):  # noqa: N818  (a refusal as often as a failure)
    """The document could not be fetched, or may not be: the reason, for the audit log."""


@dataclass(frozen=True)
class Policy:
    """The bounds of one kind of fetch."""

    timeout: float = 2.0  # seconds for the whole fetch, redirects included
    max_bytes: int = 64 * 1024
    min_ttl: int = 300
    max_ttl: int = 86_400
    default_ttl: int | None = None  # when the answer has no max-age (None: min_ttl)
    retry_after: float = 60.0  # seconds between fetches of one URL after a failure or a miss
    allow_private: bool = False  # development only: loopback and private hosts
    https_only: bool = True  # outside development
    # Development only, for a kind that says so: loopback hosts are allowed too, and
    # plain http goes to them alone (client metadata documents, where
    # AUTHAPI_ENV=development makes an exception for loopback http and nothing else).
    loopback_exception: bool = False
    loopback_only_in_development: bool = False  # what policy_for gives this kind there


def _ip(address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped  # ::ffff:127.0.0.1 is loopback too
    return ip


def address_allowed(address: str) -> bool:
    """Whether an IP address is one a fetch may connect to (a global unicast one)."""
    ip = _ip(address)
    return bool(ip.is_global) and not ip.is_multicast


def permitted(address: str, scheme: str, policy: Policy) -> bool:
    """Whether this policy lets a fetch by `scheme` connect to `address`."""
    if policy.allow_private:
        return True
    if address_allowed(address):  # plain http to a global host only where any http goes
        return scheme == "https" or not policy.loopback_exception
    return policy.loopback_exception and _ip(address).is_loopback


def check_url(url: str, policy: Policy) -> tuple[str, str, int]:
    """The scheme, host and port of a URL a fetch may go to; FetchFailed otherwise.

    A literal address is checked here; a name is checked when it is resolved.
    """
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise FetchFailed("malformed URL") from None
    allowed = ("https",) if policy.https_only else ("https", "http")
    if parts.scheme not in allowed:
        raise FetchFailed(f"the scheme must be {' or '.join(allowed)}")
    host = parts.hostname
    if not host or parts.username is not None or parts.password is not None:
        raise FetchFailed("the URL needs a host and no credentials")
    if not policy.allow_private:
        try:
            literal = ipaddress.ip_address(host)
        except ValueError:
            literal = None
        if literal is not None and not permitted(str(literal), parts.scheme, policy):
            raise FetchFailed("the address is private, loopback or link-local"
                              if not address_allowed(str(literal)) else
                              "plain http goes to loopback only")
        if not policy.loopback_exception and (host.lower() == "localhost"
                                          or host.lower().endswith(".localhost")):
            raise FetchFailed("the address is loopback")
    return parts.scheme, host, port


def _resolve(host: str, port: int, scheme: str, policy: Policy) -> str:
    """The one address to connect to; every address the name has must be allowed."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise FetchFailed("the host name does not resolve") from None
    addresses = [str(info[4][0]) for info in infos]
    if not addresses:
        raise FetchFailed("the host name does not resolve")
    if not all(permitted(a, scheme, policy) for a in addresses):
        raise FetchFailed("the host resolves to a private, loopback or link-local address"
                          " (or plain http to one that is not loopback)")
    return addresses[0]


@dataclass
class Answer:
    """A fetched document and how long it may be cached."""

    body: Any
    ttl: float


def _ttl(cache_control: str | None, policy: Policy) -> float:
    if cache_control and NO_CACHE.search(cache_control):
        return policy.min_ttl
    found = MAX_AGE.search(cache_control or "")
    default = policy.min_ttl if policy.default_ttl is None else policy.default_ttl
    wanted = int(found.group(1)) if found else default
    return float(min(max(wanted, policy.min_ttl), policy.max_ttl))


def _read(response: Any, policy: Policy, deadline: float) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        if time.monotonic() > deadline:
            raise FetchFailed("the host answered too slowly")
        chunk = response.read1(4096)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > policy.max_bytes:
            raise FetchFailed(f"the document is larger than {policy.max_bytes} bytes")
        chunks.append(chunk)


def fetch_json(url: str, policy: Policy) -> Answer:
    """GET a JSON document within the policy's bounds (blocking: see DocumentCache)."""
    deadline = time.monotonic() + policy.timeout
    for _ in range(MAX_REDIRECTS + 1):
        scheme, host, port = check_url(url, policy)
        address = _resolve(host, port, scheme, policy)
        remaining = max(0.05, deadline - time.monotonic())
        timeout = urllib3.Timeout(connect=remaining, read=remaining)
        pool: urllib3.HTTPConnectionPool
        if scheme == "https":
            pool = urllib3.HTTPSConnectionPool(address, port, timeout=timeout, retries=False,
                                               server_hostname=host, assert_hostname=host,
                                               maxsize=1)
        else:
            pool = urllib3.HTTPConnectionPool(address, port, timeout=timeout, retries=False,
                                              maxsize=1)
        parts = urlsplit(url)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        host_header = host if port in (80, 443) else f"{host}:{port}"
        if ":" in host and not host.startswith("["):
            host_header = f"[{host}]" if port in (80, 443) else f"[{host}]:{port}"
        try:
            response = pool.urlopen("GET", target, redirect=False, preload_content=False,
                                    headers={"Host": host_header, "User-Agent": USER_AGENT,
                                             "Accept": "application/json"})
            try:
                if response.status in (301, 302, 303, 307, 308):
                    location = response.headers.get("Location")
                    if not location:
                        raise FetchFailed("a redirect without a Location")
                    url = urljoin(url, location)
                    continue
                if response.status != 200:
                    raise FetchFailed(f"the host answered {response.status}")
                raw = _read(response, policy, deadline)
                ttl = _ttl(response.headers.get("Cache-Control"), policy)
            finally:
                response.close()  # one connection per fetch: never kept, never reused
        except urllib3.exceptions.HTTPError as exc:
            raise FetchFailed(f"the host could not be reached ({type(exc).__name__})") from None
        finally:
            pool.close()
        try:
            return Answer(json.loads(raw), ttl)
        except (ValueError, UnicodeDecodeError):
            raise FetchFailed("the document is not JSON") from None
    raise FetchFailed(f"more than {MAX_REDIRECTS} redirects")


@dataclass
class _Entry:
    body: Any = None
    expires_at: float = 0.0  # monotonic
    fetched_at: float = float("-inf")  # monotonic time of the last attempt
    error: str | None = None
    flight: Future[Answer] | None = field(default=None, repr=False)


def policy_for(config: Any, kind: Policy) -> Policy:
    """`kind`'s bounds under this app's settings: loopback, private hosts and plain http
    only in AUTHAPI_ENV=development (loopback alone for a kind that says so)."""
    if config["AUTHAPI_ENV"] != "development":
        return replace(kind, allow_private=False, loopback_exception=False, https_only=True)
    if kind.loopback_only_in_development:
        return replace(kind, allow_private=False, loopback_exception=True, https_only=False)
    return replace(kind, allow_private=True, https_only=False)


# The contract's bounds for a client's key set (`jwks_url`).
KEY_SETS = Policy(timeout=2.0, max_bytes=64 * 1024, min_ttl=300, max_ttl=86_400,
                  retry_after=60.0)


def cache(app: Any, name: str, kind: Policy) -> DocumentCache:
    """The app's cache of one kind of document (created on first use)."""
    key = f"authapi.outbound.{name}"
    found = app.extensions.get(key)
    if found is None:
        found = app.extensions.setdefault(key, DocumentCache(policy_for(app.config, kind)))
    return found


class DocumentCache:
    """Fetched documents by URL, fetched off the request thread (see the module doc).

    `get` answers within the policy's timeout whatever the host does: the cached body,
    a fresh one, or FetchFailed.
    """

    def __init__(self, policy: Policy, fetch: Callable[[str, Policy], Answer] = fetch_json,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.policy, self.fetch, self.clock = policy, fetch, clock
        self.entries: dict[str, _Entry] = {}
        self.lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._pid = 0

    def _executor(self) -> ThreadPoolExecutor:
        import os

        if self._pool is None or self._pid != os.getpid():  # a forked worker needs its own
            self._pool = ThreadPoolExecutor(POOL_THREADS, thread_name_prefix="authapi-fetch")
            self._pid = os.getpid()
        return self._pool

    def get(self, url: str, refresh: bool = False) -> Any:
        """The document at `url`: cached while fresh; with `refresh` (a key that is not
        in it) fetched again, but not sooner than `retry_after` after the last attempt."""
        now = self.clock()
        with self.lock:
            entry = self.entries.setdefault(url, _Entry())
            fresh = entry.body is not None and now < entry.expires_at
            # A good document whose time is up is fetched again at once; after a failure,
            # or for a fresh one (`refresh`), not sooner than retry_after.
            expired = entry.body is not None and not fresh and entry.error is None
            may_retry = expired or now - entry.fetched_at >= self.policy.retry_after
            if fresh and not (refresh and may_retry):
                return entry.body
            if entry.flight is None:
                if not may_retry:
                    return self._settled(entry, now)
                entry.fetched_at = now
                entry.flight = self._executor().submit(self._fetch, url, entry)
            flight = entry.flight
        try:
            flight.result(timeout=self.policy.timeout)
        except FutureTimeout:
            pass  # the fetch finishes on its own; this request stops waiting for it
        except FetchFailed:
            pass
        with self.lock:
            return self._settled(entry, self.clock())

    def _settled(self, entry: _Entry, now: float) -> Any:
        # A good document outlives failed refetches, but not by more than max_ttl: keys
        # a client has withdrawn must not stay trusted because its host went down.
        if entry.body is not None and now < entry.expires_at + self.policy.max_ttl:
            return entry.body
        raise FetchFailed(entry.error or "the host answered too slowly")

    def _fetch(self, url: str, entry: _Entry) -> Answer:
        try:
            answer = self.fetch(url, self.policy)
        except FetchFailed as exc:
            with self.lock:
                entry.error, entry.flight = str(exc), None
            raise
        except Exception as exc:  # noqa: BLE001  (any other failure of a hostile host)
            with self.lock:
                entry.error, entry.flight = f"the fetch failed ({type(exc).__name__})", None
            raise FetchFailed(entry.error) from None
        with self.lock:
            entry.body, entry.error, entry.flight = answer.body, None, None
            entry.expires_at = self.clock() + answer.ttl
        return answer
