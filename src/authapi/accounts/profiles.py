"""/auth/me without a database read: each user's profile, as the response body the view
renders it to, from a per-process cache that the revocation feed invalidates
(tokens/changes.py), so it has the bounds of a revocation.

A refresh still reads the database (API.md: it never copies claims); only /auth/me
uses the cache. What is kept is the rendered body, not the profile: the schema dump
and the JSON encoding cost about a quarter of an /auth/me request (bench/RESULTS.md).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from authapi.accounts import users
from authapi.tokens import revocation


def rendered(user_id: str, render: Callable[[dict[str, Any]], bytes]) -> bytes:
    """`render(users.profile(user_id))`, from this process's cache when it holds it.

    `render` must depend on the profile alone: the cache is the user's, not the
    caller's, and is dropped whenever a user, a role or a user's roles change.
    """
    state = revocation.cache()
    state.sync()  # usually done by this very request's token check: a counter read
    return cast(bytes, state.remembered(revocation.PROFILES, user_id,
                                        lambda uid: render(users.profile(uid))))
