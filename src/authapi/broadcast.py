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

import redis

log = logging.getLogger(__name__)
CHANNEL = "authapi:revocations"


class Nudge:
    """Publish "something was revoked"; remember whether anyone else did."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.pending = True  # until we listen, we cannot know what we missed
        self._pid: int | None = None
        self._client: redis.Redis | None = None

    def _redis(self) -> redis.Redis:
        if self._client is None or self._pid != os.getpid():
            self._client = redis.Redis.from_url(self.url, socket_timeout=1,
                                                socket_connect_timeout=1)
        return self._client

    def publish(self) -> None:
        """Tell every listening instance to look at the feed."""
        try:
            self._redis().publish(CHANNEL, b"1")
        except redis.RedisError as exc:
            log.warning("revocation nudge not published: %s", exc)

    def take(self) -> bool:
        """Whether a nudge arrived since the last call; starts listening on first use."""
        if self._pid != os.getpid():  # first use in this (possibly forked) process
            self._pid = os.getpid()
            threading.Thread(target=self._listen, name="authapi-nudge", daemon=True).start()
        if self.pending:
            self.pending = False
            return True
        return False

    def _listen(self) -> None:
        while True:
            try:
                pubsub = redis.Redis.from_url(self.url).pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(CHANNEL)
                self.pending = True  # anything published while we were not subscribed
                for _message in pubsub.listen():
                    self.pending = True
            except redis.RedisError as exc:
                log.warning("revocation nudges unavailable, polling only: %s", exc)
                time.sleep(1)
