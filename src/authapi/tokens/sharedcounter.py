"""A few words of memory shared by the workers of one host, through a mapped file."""

from __future__ import annotations

import mmap
import os
import struct
from pathlib import Path

SLOTS, HEARTBEAT, GOOD_POLL = 3, 1, 2  # the value, watcher alive at, feed last read at


class SharedCounter:
    """A 64-bit counter and two timestamps in a memory-mapped file, shared by the workers
    of one host: the counter changes when something was revoked; the host's feed
    watcher (hostwatch.py) stamps when it was last alive and last read the feed."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if os.fstat(fd).st_size < 8 * SLOTS:
                os.ftruncate(fd, 8 * SLOTS)
            self._map = mmap.mmap(fd, 8 * SLOTS)
        finally:
            os.close(fd)

    def read(self) -> int:
        """The current value."""
        return int(struct.unpack_from("<Q", self._map)[0])

    def bump(self) -> None:
        """Change the value, so every reader notices.

        A fresh random value rather than an increment: one store and no read, so two
        workers bumping at once cannot cancel each other out; each reader only asks
        whether the value differs from what it last saw.
        """
        value = int.from_bytes(os.urandom(8), "little")
        struct.pack_into("<Q", self._map, 0, value or 1)

    def stamp(self, slot: int, at: float) -> None:
        """Record a wall-clock time in a slot (HEARTBEAT or GOOD_POLL)."""
        struct.pack_into("<d", self._map, 8 * slot, at)

    def stamped(self, slot: int) -> float:
        """The time last recorded in a slot (0 if never)."""
        return float(struct.unpack_from("<d", self._map, 8 * slot)[0])
