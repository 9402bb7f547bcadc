"""The per-process cache of verified access tokens: bounded in count and in time.

A token whose signature and static claims were verified once is remembered by the
SHA-256 of its exact text, so a check of it again costs a hash and a dictionary lookup
(bench/micro.py: about 3 µs against 80 µs). The digest, not the text, is the key: 65
bytes instead of about 900 for an RS256 token, which is most of an entry.

An LRU bound alone let the cache grow until it held `maxsize` entries, expired ones
included: about 1.9 KB each, so 95 MB per worker at the old 50,000, which the soak
harness saw as a worker's memory growing 14 % over 30 minutes (bench/soak). Now every
`SWEEP_EVERY` insertions (misses, each of which verified a signature, ~80 µs) drop the
entries whose token has expired, so the cache holds the tokens live now, up to `maxsize`.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

from cachetools import LRUCache

MAX_TOKENS = 20_000
SWEEP_EVERY = 1_000


class VerifiedTokens(LRUCache[bytes, dict[str, Any]]):
    """Verified access tokens' claims by the digest of their text; `remember` adds and
    sweeps, `claims` looks up."""

    def __init__(self, maxsize: int = MAX_TOKENS, sweep_every: int = SWEEP_EVERY) -> None:
        super().__init__(maxsize=maxsize)
        self.sweep_every = sweep_every
        self._added = 0

    def claims(self, token: str) -> dict[str, Any] | None:
        """The claims remembered for this exact token, if any."""
        return self.get(hashlib.sha256(token.encode()).digest())

    def remember(self, token: str, claims: dict[str, Any]) -> None:
        """Keep `claims` for `token`; now and then drop every expired entry."""
        self[hashlib.sha256(token.encode()).digest()] = claims
        self._added += 1
        if self._added % self.sweep_every == 0:
            self.sweep(time.time())

    def sweep(self, now: float) -> int:
        """Drop the entries whose token has expired at `now`; how many."""
        expired = [key for key, claims in self.items() if claims.get("exp", now) <= now]
        for key in expired:
            self.pop(key, None)
        return len(expired)
