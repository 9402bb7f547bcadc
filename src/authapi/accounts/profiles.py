"""/auth/me without a database read: users' profiles from a per-process cache that the
revocation feed invalidates (tokens/changes.py), so it has the bounds of a revocation.

A refresh still reads the database (API.md: it never copies claims); only /auth/me
uses the cache.
"""

from __future__ import annotations

from typing import Any, cast

from authapi.accounts import users
from authapi.tokens import revocation


def profile(user_id: str) -> dict[str, Any]:
    """users.profile(user_id), from this process's cache when it holds it."""
    state = revocation.cache()
    state.sync()  # usually done by this very request's token check: a counter read
    return cast(dict[str, Any], state.remembered(revocation.PROFILES, user_id,
                                                 lambda uid: users.profile(uid)))
