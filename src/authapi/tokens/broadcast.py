"""Cross-instance nudges through Redis pub/sub, when AUTHAPI_REDIS_URL is set.

The revocation feed in the database is the truth; this only tells other instances
to read it now instead of at their next poll. If Redis is down, polling still
bounds the delay, so a failure here is logged and never raised.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from types import ModuleType
from typing import Any

log = logging.getLogger(__name__)
CHANNEL = "authapi:revocations"


class Nudge:
    """Publish "something was revoked"; remember whether anyone else did."""

    RETRY_SECONDS = 0.5  # between attempts to subscribe again
    WARN_EVERY = 60.0  # while Redis stays unreachable, one warning a minute, not two a second

    def __init__(self, url: str) -> None:
        self.url = url
        self.pending = True  # until we listen, we cannot know what we missed
        self.healthy = False  # subscribed now: polling may slow down to a safety net
        self.failures = 0  # attempts to subscribe that failed since the last success
        self._warned_at: float | None = None
        self._pid: int | None = None
        self._client: Any = None
        import redis  # only where Redis is configured: a faster cold start elsewhere

        self.redis: ModuleType = redis

    def _redis(self) -> Any:
        if self._client is None or self._pid != os.getpid():
            self._client = self.redis.Redis.from_url(self.url, socket_timeout=1,
                                                     socket_connect_timeout=1)
        return self._client

    def publish(self) -> None:
        """Tell every listening instance to look at the feed."""
        try:
            self._redis().publish(CHANNEL, b"1")
        except self.redis.RedisError as exc:
            log.warning("revocation nudge not published: %s", exc)

    def listen(self) -> None:
        """Start the listening thread, once per (possibly forked) process."""
        if self._pid != os.getpid():
            self._pid = os.getpid()
            self.healthy = False
            threading.Thread(target=self._listen, name="authapi-nudge", daemon=True).start()

    def take(self) -> bool:
        """Whether a nudge arrived since the last call; starts listening on first use."""
        self.listen()
        if self.pending:
            self.pending = False
            return True
        return False

    def _listen(self) -> None:
        while True:
            try:
                # A PING each second on the idle subscription: a dead server is noticed
                # within about a second even when no FIN ever arrives.
                client = self.redis.Redis.from_url(self.url, health_check_interval=1,
                                                   socket_connect_timeout=1, socket_timeout=2)
                pubsub = client.pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(CHANNEL)
                self.pending = True  # anything published while we were not subscribed
                self.healthy = True
                if self.failures:
                    log.info("revocation nudges back after %d failed attempts", self.failures)
                self.failures, self._warned_at = 0, None
                while True:
                    if pubsub.get_message(timeout=1.0) is not None:
                        self.pending = True
            except (self.redis.RedisError, OSError) as exc:
                self.healthy = False
                self.pending = True  # what was published meanwhile is lost: look at the feed
                self.failures += 1
                now = time.monotonic()
                if self._warned_at is None or now - self._warned_at >= self.WARN_EVERY:
                    self._warned_at = now
                    log.warning("revocation nudges unavailable, polling only: %s", exc)
                time.sleep(self.RETRY_SECONDS)
