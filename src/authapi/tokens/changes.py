"""Tell every process when rows behind its caches change, through the revocation feed.

Some reads on the per-request path are cached per process (tokens/revocation.py's
`remembered`): users' profiles for /auth/me, OAuth clients for the token endpoint and
introspection. Any committed change to their tables writes one entry to the feed
(`profiles:*`, `clients:*`) in the same transaction, so the caches have the bounds of a
revocation: this process drops the kind at its own commit, sibling workers on the host
at once (the shared counter), other instances within the feed's poll interval (at once
with Redis).

Changes are found where the session sees them: ORM objects at flush (a modified or
deleted row), and Core INSERT, UPDATE and DELETE statements at execution. A new user,
role or client is in no cache yet, so inserting one changes nothing; a new user-role
link does.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session, sessionmaker

from authapi.tokens import revocation

KINDS = {"users": revocation.PROFILES, "user_roles": revocation.PROFILES,
         "roles": revocation.PROFILES, "clients": revocation.CLIENTS}
NEW_ROWS_CHANGE_NOTHING = frozenset({"users", "roles", "clients"})
PENDING, RECORDED = "authapi.changes_pending", "authapi.changes_recorded"


def _record(session: Session, kind: str) -> None:
    recorded = session.info.setdefault(RECORDED, set())
    if kind not in recorded:
        recorded.add(kind)
        revocation.record(session, jti=kind)


def _table_of(obj: Any) -> str | None:
    table = getattr(obj, "__table__", None)
    return getattr(table, "name", None)


def _before_flush(session: Session, _context: Any, _instances: Any) -> None:
    for obj in session.deleted:
        kind = KINDS.get(_table_of(obj) or "")
        if kind is not None:
            _record(session, kind)
    for obj in session.dirty:
        kind = KINDS.get(_table_of(obj) or "")
        if kind is not None and session.is_modified(obj):
            _record(session, kind)


def _on_execute(state: ORMExecuteState) -> None:
    if not (state.is_update or state.is_delete or state.is_insert):
        return
    name = getattr(getattr(state.statement, "table", None), "name", None)
    kind = KINDS.get(name or "")
    if kind is not None and not (state.is_insert and name in NEW_ROWS_CHANGE_NOTHING):
        state.session.info.setdefault(PENDING, set()).add(kind)


def _before_commit(session: Session) -> None:
    for kind in session.info.pop(PENDING, set()):
        _record(session, kind)  # flushed by the commit that follows


def _end(session: Session) -> None:
    session.info.pop(PENDING, None)
    session.info.pop(RECORDED, None)


def watch(factory: sessionmaker[Session]) -> None:
    """Record cache-relevant changes made through this app's sessions in the feed."""
    event.listen(factory, "before_flush", _before_flush)
    event.listen(factory, "do_orm_execute", _on_execute)
    event.listen(factory, "before_commit", _before_commit)
    event.listen(factory, "after_commit", _end)
    event.listen(factory, "after_soft_rollback", lambda s, _t: _end(s))
