"""The mixed workload: users with several tabs, services, an administrator, an attacker."""

from __future__ import annotations

import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from .client import Answer, Http, Sampler, Tracker, bearer, claims
from .events import EventLog

PASSWORD = "soak-Passw0rd-correct-horse"  # noqa: S105  (throwaway accounts of the run)
LOST = (0, 502, 503, 504)  # no usable answer: try again with the same request


@dataclass
class World:
    log: EventLog
    http: Http
    tracker: Tracker
    sampler: Sampler
    stop: threading.Event
    grace: float
    users: list[str]
    victims: dict[str, str]          # email -> user id
    attackers: list[str]
    brute_target: str
    admin: str
    client_id: str = ""
    client_secret: str = ""
    recent: list[str] = field(default_factory=list)  # recent user access tokens

    def pause(self, seconds: float) -> None:
        self.stop.wait(seconds)


def login(w: World, actor: str, email: str, limit: float = 60.0) -> dict[str, Any] | None:
    """Log in through nginx, trying again through outages; None when stopped or refused."""
    deadline = time.monotonic() + limit
    while not w.stop.is_set() and time.monotonic() < deadline:
        a = w.http.call(actor, "POST", "/auth/login", json={"email": email, "password": PASSWORD})
        if a.status == 200:
            return a.data
        if a.status not in LOST:
            return None
        w.pause(0.5)
    return None


def _pair(a: Answer) -> tuple[str, str]:
    return a.data.get("access_token", ""), a.data.get("refresh_token", "")


def refresh_until_answered(w: World, actor: str, token: str) -> Answer:
    """One tab's refresh: a lost answer is retried with the same token, inside the grace."""
    deadline = time.monotonic() + w.grace - 2
    while True:
        a = w.http.call(actor, "POST", "/auth/refresh", headers=bearer(token))
        if a.status not in LOST or time.monotonic() > deadline or w.stop.is_set():
            return a
        w.pause(0.3)


def refresh(w: World, pool: ThreadPoolExecutor, actor: str, sid: str,
            token: str) -> dict[str, Any] | None:
    """Refresh as a browser does: several tabs at once, or one whose answer is lost and
    retried. Every 200 must carry the same pair (the grace window)."""
    mode = random.choice(("tabs", "tabs", "lost", "single"))
    if mode == "tabs":
        answers = list(pool.map(lambda _t: refresh_until_answered(w, actor, token),
                                range(random.randint(2, 3))))
    elif mode == "lost":  # the first answer never reaches the client: it asks again
        answers = [refresh_until_answered(w, actor, token)]
        w.pause(random.uniform(0.0, 2.0))
        answers.append(refresh_until_answered(w, actor, token))
    else:
        answers = [refresh_until_answered(w, actor, token)]
    good = [a for a in answers if a.status == 200]
    bad = [a for a in answers if a.status != 200]
    if bad:
        w.tracker.unsure(sid)
        if len(answers) > 1 and any(a.status == 401 for a in bad):
            w.log.check("grace_same_pair", False, f"{actor} {mode}: the same token, retried "
                        f"inside the grace window, answered {bad[0].status} {bad[0].code}")
        w.log.check("session_kept", False,
                    f"{actor} refresh ({mode}) answered "
                    + ", ".join(f"{a.status} {a.code}" for a in bad))
        return good[0].data if good and {_pair(a) for a in good} == {_pair(good[0])} else None
    w.log.check("session_kept", True)
    if len(answers) > 1:
        same = len({_pair(a) for a in good}) == 1
        w.log.check("grace_same_pair", same, "" if same else f"{actor} {mode}: pairs differ")
        if not same:
            w.tracker.unsure(sid)
            return None
    w.tracker.rotated(good[0].data)
    return good[0].data


def use(w: World, actor: str, access: str) -> None:
    """/auth/check and /auth/me with a token the user still holds: never refused."""
    for path in ("/auth/check", "/auth/me"):
        a = w.http.call(actor, "GET", path, headers=bearer(access))
        if a.status in (401, 403):
            w.log.check("session_kept", False, f"{actor} {path} refused a live token: {a.code}")
        elif a.status == 200:
            w.log.check("session_kept", True)


def user(w: World, email: str) -> None:
    pool = ThreadPoolExecutor(max_workers=3)
    while not w.stop.is_set():
        pair = login(w, "user", email)
        if pair is None:
            w.pause(1)
            continue
        sid = w.tracker.opened(email, pair)
        for _cycle in range(random.randint(4, 10)):
            if w.stop.is_set():
                break
            use(w, "user", pair["access_token"])
            w.recent[:] = [*w.recent[-20:], pair["access_token"]]
            if random.random() < 0.2:
                w.http.call("user", "GET", "/auth/sessions", headers=bearer(pair["access_token"]))
            if random.random() < 0.15:
                second_session(w, email, pair["access_token"])
            new = refresh(w, pool, "user", sid, pair["refresh_token"])
            if new is None:
                break
            pair = new
            w.pause(random.uniform(0.0, 0.5))
        else:
            a = w.http.call("user", "POST", "/auth/logout", headers=bearer(pair["access_token"]))
            if a.status == 204:
                w.tracker.ended(sid)
                w.sampler.revoked("logout", pair["access_token"])
            else:
                w.tracker.unsure(sid)
    pool.shutdown(wait=False)


def second_session(w: World, email: str, access: str) -> None:
    """Another device logs in; the first one ends it from its session list."""
    other = login(w, "user", email, limit=5)
    if other is None:
        return
    sid = w.tracker.opened(email, other)
    a = w.http.call("user", "DELETE", f"/auth/sessions/{sid}", label="/auth/sessions/{id}",
                    headers=bearer(access))
    if a.status == 204:
        w.tracker.ended(sid)
        w.sampler.revoked("session_delete", other["access_token"])
    else:
        w.tracker.unsure(sid)


def service(w: World) -> None:
    auth = (w.client_id, w.client_secret)
    while not w.stop.is_set():
        a = w.http.call("service", "POST", "/oauth/token", auth=auth,
                        data={"grant_type": "client_credentials"})
        if a.status != 200:
            w.pause(0.5)
            continue
        for token in (a.data["access_token"], *w.recent[-1:]):
            w.http.call("service", "POST", "/oauth/introspect", auth=auth, data={"token": token})
        w.pause(random.uniform(0.2, 1.0))


def admin_call(w: World, method: str, path: str, **kwargs: Any) -> Answer:
    """The admin API is not routed by deploy/nginx.conf: an operator reaches an instance."""
    return w.http.call("admin", method, path, target=random.choice(("a", "b")), **kwargs)


def admin(w: World) -> None:
    token, uses = "", 0
    pool = ThreadPoolExecutor(max_workers=3)
    while not w.stop.is_set():
        if not token or uses > 40:
            pair = login(w, "admin", w.admin)
            token, uses = (pair or {}).get("access_token", ""), 0
            continue
        uses += 1
        admin_call(w, "GET", "/admin/users?per_page=20", label="/admin/users",
                    headers=bearer(token))
        email = random.choice(list(w.victims))
        victim = login(w, "victim", email, limit=10)
        if victim is None:
            continue
        w.tracker.opened(email, victim)
        uid = w.victims[email]
        if random.random() < 0.5:
            roles = random.choice((["user"], ["user", "editor"]))
            a = admin_call(w, "PUT", f"/admin/users/{uid}/roles",
                            label="/admin/users/{id}/roles", headers=bearer(token),
                            json={"roles": roles})
            if a.status == 200:
                w.sampler.revoked("roles", victim["access_token"])
                after = refresh(w, pool, "victim",
                                claims(victim["refresh_token"])["sid"], victim["refresh_token"])
                if after is not None:
                    got = sorted(claims(after["access_token"]).get("roles", []))
                    w.log.check("session_kept", got == sorted(roles),
                                f"refresh after a role change carries {got}, not {roles}")
        else:
            a = admin_call(w, "PATCH", f"/admin/users/{uid}", label="/admin/users/{id}",
                            headers=bearer(token), json={"disabled": True})
            if a.status == 200:
                w.tracker.ended_user(email)
                w.sampler.revoked("disable", victim["access_token"])
                r = w.http.call("victim", "POST", "/auth/refresh",
                                headers=bearer(victim["refresh_token"]))
                w.log.check("forged_or_reused_refused", r.status in (401, 403) or r.status in LOST,
                            f"a disabled user's refresh answered {r.status}")
            admin_call(w, "PATCH", f"/admin/users/{uid}", label="/admin/users/{id}",
                        headers=bearer(token), json={"disabled": False})
        w.pause(random.uniform(0.5, 1.5))
