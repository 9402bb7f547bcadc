"""The per-process cache of verified access tokens: bounded in count and in time.

A token whose signature and static claims were verified once is remembered by its exact
text, so a check of it again costs a dictionary lookup (bench/micro.py: 2.4 µs against
80 µs). An LRU bound alone let the cache grow until it held `maxsize` entries, expired
ones included: about 1.9 KB each, so 95 MB per worker at the old 50,000, which the soak
harness saw as a worker's memory growing 14 % over 30 minutes (bench/soak). Now every
`SWEEP_EVERY` insertions (misses, each of which verified a signature, ~80 µs) drop the
entries whose token has expired, so the cache holds the tokens live now, up to `maxsize`.
The hit path is LRUCache's own `get`, unchanged.
"""

from __future__ import annotations

import time
from typing import Any

from cachetools import LRUCache

MAX_TOKENS = 20_000
SWEEP_EVERY = 1_000


class VerifiedTokens(LRUCache[str, dict[str, Any]]):
    """Verified access tokens' claims by token text; `remember` adds and sweeps."""

    def __init__(self, maxsize: int = MAX_TOKENS, sweep_every: int = SWEEP_EVERY) -> None:
        super().__init__(maxsize=maxsize)
        self.sweep_every = sweep_every
        self._added = 0

    def remember(self, token: str, claims: dict[str, Any]) -> None:
        """Keep `claims` for `token`; now and then drop every expired entry."""
        self[token] = claims
        self._added += 1
        if self._added % self.sweep_every == 0:
            self.sweep(time.time())

    def sweep(self, now: float) -> int:
        """Drop the entries whose token has expired at `now`; how many."""
        expired = [token for token, claims in self.items() if claims.get("exp", now) <= now]
        for token in expired:
            self.pop(token, None)
        return len(expired)
