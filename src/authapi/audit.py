"""Audit events: who did what, from where."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from flask import has_request_context
from sqlalchemy import Table, bindparam, insert
from sqlalchemy.engine import Connection

from authapi import context, db
from authapi.db import utcnow
from authapi.models import AuditEvent
from authapi.ops import metrics

log = logging.getLogger("authapi.audit")


@dataclass(frozen=True)
class ClientMeta:
    """Where a request came from."""

    ip: str | None
    user_agent: str | None


def request_meta() -> ClientMeta:
    """The caller's address and user agent, truncated to what the tables hold."""
    if not has_request_context():
        return ClientMeta(ip=None, user_agent="authapi-cli")
    current = context.request()
    agent = current.headers.get("User-Agent")
    agent = agent.replace("\x00", "")[:512] if agent else None
    return ClientMeta(ip=(current.remote_addr or "")[:45] or None, user_agent=agent or None)


# The table's own INSERT on the request's transaction, compiled once (db.Prepared.within):
# the ORM's bulk-insert path around an entity INSERT cost about 0.25 ms of each audited
# request (the token endpoint, refresh, login), and the session's execute another 0.07.
INSERT = db.Prepared(insert(cast(Table, AuditEvent.__table__)).values(
    {name: bindparam(name) for name in ("event", "user_id", "client_id", "ip", "user_agent",
                                        "detail", "at")}))


def record(event: str, *, user_id: str | None = None, client_id: str | None = None,
           detail: dict[str, Any] | None = None, origin: ClientMeta | None = None,
           at: datetime | None = None, connection: Connection | None = None) -> None:
    """Write an audit event in the current transaction (rolled back with it).

    `origin` and `at` default to this request and now; work done after the request
    (the outbox worker) passes the ones it recorded. `connection`: the transaction's,
    when the caller already holds it (a refresh on SQLite).

    A Core INSERT run at once rather than an ORM object flushed at commit: nothing
    reads audit rows back in the request, and the unit of work cost about 0.2 ms
    of every refresh (bench/RESULTS.md).
    """
    meta = origin or request_meta()
    INSERT.within(connection or db.orm().connection(), {
        "event": event, "user_id": user_id, "client_id": client_id, "ip": meta.ip,
        "user_agent": meta.user_agent, "detail": detail or {}, "at": at or utcnow()})
    recorded(event, user_id=user_id, client_id=client_id, detail=detail, origin=meta)


def record_alone(event: str, *, client_id: str | None = None,
                 detail: dict[str, Any] | None = None) -> None:
    """Write an audit event as a statement of its own (autocommit), for a request that
    writes nothing else (the client-credentials grant): one round trip on PostgreSQL,
    where the request's transaction made three (BEGIN, INSERT, COMMIT). When the request
    has already opened its transaction (a client assertion's jti was stored), the event
    joins it, as `record`: its writes commit or roll back together, and on SQLite a
    second connection would wait on the first's lock."""
    if db.in_transaction():
        record(event, client_id=client_id, detail=detail)
        return
    meta = request_meta()
    INSERT.run({"event": event, "user_id": None, "client_id": client_id, "ip": meta.ip,
                "user_agent": meta.user_agent, "detail": detail or {}, "at": utcnow()},
               retry=False)
    recorded(event, client_id=client_id, detail=detail, origin=meta)


def recorded(event: str, *, user_id: str | None = None, client_id: str | None = None,
             detail: dict[str, Any] | None = None, origin: ClientMeta | None = None) -> None:
    """Count and log an event whose row a statement of the caller's wrote (a refresh's
    one statement on PostgreSQL, sessions.rotation): what `record` does after its INSERT."""
    meta = origin or request_meta()
    _count(event, detail or {})
    log.info(event, extra={"fields": {"event": event, "user_id": user_id,
                                      "client_id": client_id, "ip": meta.ip, "detail": detail}})


def _count(event: str, detail: dict[str, Any]) -> None:
    # Audit events are the domain's record of what happened; metrics count some of them.
    method = str(detail.get("method", "password"))
    if event == "login":
        metrics.LOGINS.labels(method, "success").inc()
    elif event == "login_failed":
        metrics.LOGINS.labels(method, str(detail.get("reason", "failed"))).inc()
    elif event == "token_reused":
        metrics.REUSE_DETECTIONS.inc()
