"""/auth/me without a database read: a per-process cache of profiles, kept fresh by the
revocation feed (tokens/revocation.py), so it has the same bounds as a revocation.

Any committed change to what a profile shows (a user's email, name, flags or roles; a
role's permissions; a deleted user) writes one `profiles:*` entry to the feed in the
same transaction. This process drops every cached profile at its own commit, sibling
workers on the host at once (the shared counter), other instances within the feed's
poll interval (or at once with Redis). Changes are found where the session sees them:
ORM objects at flush, Core INSERT/UPDATE/DELETE statements on the profile tables at
execution. A profile read while a change lands is not cached (a generation check), so
a stale one is never kept.

A refresh still reads the database (API.md: it never copies claims); only /auth/me
uses the cache.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session, sessionmaker

from authapi.accounts import users
from authapi.models import Role, User
from authapi.tokens import revocation

PROFILE_TABLES = frozenset({"users", "user_roles", "roles"})
# New rows of these are in no cached profile yet: inserting one changes none.
NEW_ROWS_CHANGE_NOTHING = frozenset({"users", "roles"})
PENDING, RECORDED = "authapi.profiles_pending", "authapi.profiles_recorded"


def profile(user_id: str) -> dict[str, Any]:
    """users.profile(user_id), from this process's cache when it holds it."""
    state = revocation.cache()
    state.sync()  # usually done by the token check of this very request: a counter read
    cached = state.profiles.get(user_id)
    if cached is not None:
        return cached
    generation = state.profile_generation
    fresh = users.profile(user_id)
    if state.profile_generation == generation:  # no change landed while we read
        state.profiles[user_id] = fresh
    return fresh


def _record(session: Session) -> None:
    if not session.info.get(RECORDED):
        session.info[RECORDED] = True
        revocation.record(session, jti=revocation.PROFILES)


def _before_flush(session: Session, _context: Any, _instances: Any) -> None:
    for obj in session.deleted:
        if isinstance(obj, (User, Role)):
            _record(session)
            return
    for obj in session.dirty:
        if isinstance(obj, (User, Role)) and session.is_modified(obj):
            _record(session)
            return


def _on_execute(state: ORMExecuteState) -> None:
    if not (state.is_update or state.is_delete or state.is_insert):
        return
    table = getattr(state.statement, "table", None)
    name = getattr(table, "name", None)
    if name in PROFILE_TABLES and not (state.is_insert and name in NEW_ROWS_CHANGE_NOTHING):
        state.session.info[PENDING] = True


def _before_commit(session: Session) -> None:
    if session.info.pop(PENDING, False):
        _record(session)  # flushed by the commit that follows


def _end(session: Session) -> None:
    session.info.pop(PENDING, None)
    session.info.pop(RECORDED, None)


def watch(factory: sessionmaker[Session]) -> None:
    """Record profile changes made through this app's sessions in the feed."""
    event.listen(factory, "before_flush", _before_flush)
    event.listen(factory, "do_orm_execute", _on_execute)
    event.listen(factory, "before_commit", _before_commit)
    event.listen(factory, "after_commit", _end)
    event.listen(factory, "after_soft_rollback", lambda s, _t: _end(s))
