"""HTTP for the soak actors: one keep-alive session per thread, every answer logged, and
a shared pacer that holds the workload to a steady rate."""

from __future__ import annotations

import base64
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import requests

from .events import EventLog, Request, Sample

TIMEOUT = 10.0


class Pacer:
    """Hands out request slots at `rate` per second to every actor together. A backlog of
    more than a second is dropped, not burst out after a stall."""

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate
        self.next = time.monotonic()
        self.lock = threading.Lock()

    def wait(self) -> None:
        with self.lock:
            now = time.monotonic()
            self.next = max(self.next, now - 1.0)
            slot, self.next = self.next, self.next + self.interval
        if slot > now:
            time.sleep(slot - now)


@dataclass
class Answer:
    status: int
    code: str
    body: bytes
    data: dict[str, Any]


class Http:
    def __init__(self, log: EventLog, bases: dict[str, str], pacer: Pacer,
                 ca: str | bool = True) -> None:
        self.log, self.bases, self.pacer, self.ca = log, bases, pacer, ca
        self.local = threading.local()

    def _session(self) -> requests.Session:
        session = getattr(self.local, "session", None)
        if session is None:
            session = requests.Session()
            session.trust_env = False  # loopback only: no proxy from the environment
            session.verify = self.ca   # nginx's certificate, by deploy/make-certs.sh's CA
            self.local.session = session
        return session

    def call(self, actor: str, method: str, path: str, *, label: str | None = None,
             target: str = "nginx", paced: bool = True, **kwargs: Any) -> Answer:
        if paced:
            self.pacer.wait()
        started = time.perf_counter()
        try:
            response = self._session().request(method, self.bases[target] + path,
                                               timeout=TIMEOUT, **kwargs)
            status, body = response.status_code, response.content
        except requests.RequestException:
            status, body = 0, b""
            self.local.session = None  # a reset connection: start a fresh pool
        ms = (time.perf_counter() - started) * 1e3
        data: dict[str, Any] = {}
        if body[:1] == b"{":
            try:
                data = json.loads(body)
            except ValueError:
                pass
        code = str(data.get("code") or data.get("error") or "") if status >= 400 else ""
        self.log.requests.append(Request(self.log.now(), actor, f"{method} {label or path}",
                                         target, status, code, round(ms, 2)))
        return Answer(status, code, body, data)


def claims(token: str) -> dict[str, Any]:
    """A JWT's payload, unverified (the harness only reads what it was given)."""
    part = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))))


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass
class Tracked:
    user: str
    refresh_jti: str
    rotations: int = 0
    alive: bool = True
    certain: bool = True  # False after a refresh whose outcome the harness cannot know


@dataclass
class Tracker:
    """Every session the harness opened, as the harness believes it is."""

    sessions: dict[str, Tracked] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def opened(self, user: str, pair: dict[str, Any]) -> str:
        c = claims(pair["refresh_token"])
        with self.lock:
            self.sessions[c["sid"]] = Tracked(user, c["jti"])
        return str(c["sid"])

    def rotated(self, pair: dict[str, Any]) -> None:
        c = claims(pair["refresh_token"])
        with self.lock:
            row = self.sessions[c["sid"]]
            if row.refresh_jti != c["jti"]:
                row.refresh_jti, row.rotations = c["jti"], row.rotations + 1

    def ended(self, sid: str, certain: bool = True) -> None:
        with self.lock:
            if sid in self.sessions:
                self.sessions[sid].alive = False
                self.sessions[sid].certain = self.sessions[sid].certain and certain

    def unsure(self, sid: str) -> None:
        with self.lock:
            self.sessions[sid].certain = False

    def ended_user(self, user: str) -> None:
        with self.lock:
            for row in self.sessions.values():
                if row.user == user:
                    row.alive = False


class Sampler:
    """After a revocation, polls /auth/check on each instance directly (not through nginx)
    until it refuses the token; at most a few samples at once, the rest are not taken."""

    GIVE_UP = 3.0

    def __init__(self, http: Http, instances: tuple[str, ...] = ("a", "b"),
                 parallel: int = 4) -> None:
        self.http, self.instances = http, instances
        self.slots = threading.Semaphore(parallel)
        self.skipped = 0

    def revoked(self, kind: str, token: str) -> None:
        revoked_at = time.monotonic()
        if not self.slots.acquire(blocking=False):
            self.skipped += 1
            return
        threading.Thread(target=self._sample, args=(kind, token, revoked_at), daemon=True).start()

    def _sample(self, kind: str, token: str, revoked_at: float) -> None:
        log = self.http.log
        answered = {name: False for name in self.instances}
        late: dict[str, float | None] = {name: None for name in self.instances}
        pending = set(self.instances)
        try:
            while pending:
                for name in sorted(pending):
                    sent = time.monotonic() - revoked_at
                    answer = self.http.call("prober", "GET", "/auth/check", target=name,
                                            paced=False, headers=bearer(token))
                    got = time.monotonic() - revoked_at
                    if answer.status == 200:
                        answered[name], late[name] = True, max(sent, 0.0)
                    if answer.status in (401, 403):
                        log.samples.append(Sample(log.now(), kind, name, round(got, 3),
                                                  late[name]))
                        pending.discard(name)
                    elif got > self.GIVE_UP:
                        log.samples.append(Sample(log.now(), kind, name, None, late[name],
                                                  skipped=not answered[name]))
                        pending.discard(name)
                time.sleep(0.05)
        finally:
            self.slots.release()
