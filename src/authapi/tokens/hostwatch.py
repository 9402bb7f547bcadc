"""One revocation-feed poller per host, for every worker on it.

Each served worker starts a thread that blocks on an exclusive `flock` of
`revocation.lock` in the instance folder; the one that holds it is the host's
watcher. It reads the feed every AUTHAPI_REVOCATION_POLL_INTERVAL seconds (every
AUTHAPI_REVOCATION_SAFETY_POLL while Redis nudges arrive), bumps the shared counter
when there is news, and stamps a heartbeat in the shared map. While the heartbeat
is fresh, workers never poll on a timer: they read the feed only when the counter
moves or a nudge arrives. So the database sees O(hosts) polls a second instead of
O(workers). When the watcher's process dies, the kernel drops its lock, a blocked
sibling takes over, and until it stamps, workers poll for themselves (the bound of
the contract holds throughout: README, "Revocation at scale").
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
from collections import deque
from pathlib import Path

from flask import Flask

from authapi.tokens.revocation import FEED, LOOKBACK_SECONDS, RevocationCache
from authapi.tokens.sharedcounter import GOOD_POLL, HEARTBEAT

log = logging.getLogger(__name__)
BEAT = 0.1  # seconds between heartbeats; well under revocation.LEADER_TIMEOUT


class HostWatcher:
    """The per-host poller; every worker runs one, only the lock holder polls."""

    def __init__(self, state: RevocationCache, lock_path: Path) -> None:
        self.state = state
        self.lock_path = lock_path
        self.floor = 0
        self.seen: deque[tuple[float, int]] = deque()
        self.seen_ids: set[int] = set()
        self.primed = False  # the first read is the baseline, not news

    def start(self) -> None:
        """Start the thread (daemon: it dies with the worker, and so does the lock)."""
        threading.Thread(target=self.run, name="authapi-hostwatch", daemon=True).start()

    def run(self) -> None:
        """Wait for the host's lock, then poll forever."""
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)  # held until this process exits
        log.info("revocation feed watcher for this host: pid %s", os.getpid())
        state, last_poll = self.state, 0.0
        if state.nudge is not None:
            state.nudge.listen()
        while True:
            now = time.monotonic()
            healthy = state.nudge is not None and state.nudge.healthy
            if now - last_poll >= (state.safety_poll if healthy else state.poll_interval):
                last_poll = now
                try:
                    if self.poll(now):
                        state.counter.bump()
                    state.counter.stamp(GOOD_POLL, time.time())
                except Exception as exc:  # the database is down: workers judge staleness
                    log.warning("revocation feed unreadable: %s", type(exc).__name__)
            state.counter.stamp(HEARTBEAT, time.time())
            time.sleep(min(BEAT, state.poll_interval or BEAT))

    def poll(self, now: float) -> bool:
        """Read the feed past the floor; whether it holds an event not seen before."""
        rows = FEED.rows({"floor": self.floor}, engine=self.state.engine)
        news = False
        for event_id, _session, _jti in rows:
            if event_id not in self.seen_ids:
                self.seen_ids.add(event_id)
                self.seen.append((now, event_id))
                news = self.primed
        # Ids older than the lookback cannot be overtaken by a slow commit any more.
        while self.seen and now - self.seen[0][0] > LOOKBACK_SECONDS:
            _, event_id = self.seen.popleft()
            self.seen_ids.discard(event_id)
            self.floor = max(self.floor, event_id)
        self.primed = True
        return news


def start(app: Flask) -> None:
    """Run this process's candidate watcher for the app's host (called by authapi.wsgi)."""
    state: RevocationCache = app.extensions["authapi.tokens.revocation"]
    HostWatcher(state, Path(app.instance_path) / "revocation.lock").start()
