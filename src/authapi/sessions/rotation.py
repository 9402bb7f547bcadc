"""Consuming a refresh token: the rotation, its audit row and the user's roles, in as few
round trips as the database allows.

On PostgreSQL one statement rotates and audits: a data-modifying CTE (`WITH rotated AS
(UPDATE ... RETURNING ...) INSERT INTO audit_events ...`), in autocommit with the grace
window off, where the ORM's transaction cost five round trips (BEGIN, UPDATE, the roles,
the audit INSERT, COMMIT). The roles are a second statement, after it: a statement
reads other tables as they were when it began, and the rotating UPDATE may have waited
for a role change's lock on the session row (sessions._void); read in the same
statement, the roles were the ones before the change that had just committed, in a
token minted after the change's cut-off. With the window on both run in the request's
transaction, which the grace row joins before the commit. SQLite cannot put DML in a
CTE: there it is the UPDATE, then the roles, then the audit INSERT, in the request's
transaction (no round trips in-process).

The UPDATE consumes the token only when the proof's key is the session's (or the session
is unbound): a wrong or missing DPoP proof leaves the token usable by its holder, even
where the statement commits on its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

from sqlalchemy import String, Table, bindparam, func, insert, null, or_, select, update
from sqlalchemy.dialects.postgresql import psycopg

from authapi import audit, context, db
from authapi.accounts import users
from authapi.audit import ClientMeta
from authapi.db import utcnow
from authapi.models import AuditEvent, Role, User, UserSession
from authapi.tokens import tokens

SESSIONS = cast(Table, UserSession.__table__)
AUDIT = cast(Table, AuditEvent.__table__)
# What a rotation reads back: the key the session is bound to, its sign-in, its app grant.
KEPT = (SESSIONS.c.dpop_jkt, SESSIONS.c.auth_time, SESSIONS.c.acr, SESSIONS.c.amr,
        SESSIONS.c.client_id, SESSIONS.c.scope, SESSIONS.c.audience)
# The profile's columns (users.PROFILE), after the rotation's own.
PROFILE = (User.id, User.email, User.display_name, User.email_verified, User.mfa_enabled,
           User.created_at, User.disabled, Role.name, Role.permissions)


def _update() -> Any:
    return (
        update(SESSIONS)
        .where(SESSIONS.c.id == bindparam("sid"), SESSIONS.c.refresh_jti == bindparam("jti"),
               SESSIONS.c.user_id == bindparam("sub"), SESSIONS.c.revoked_at.is_(None),
               or_(SESSIONS.c.dpop_jkt.is_(None), SESSIONS.c.dpop_jkt == bindparam("jkt")))
        .values(refresh_jti=bindparam("new_jti"), last_used_at=bindparam("now"),
                ip=bindparam("ip"), user_agent=bindparam("agent"),
                expires_at=bindparam("expires_at"),
                dpop_jkt=func.coalesce(SESSIONS.c.dpop_jkt, bindparam("jkt")))
    )


# SQLite: the UPDATE alone, on the request's transaction.
ROTATE = db.Prepared(_update().returning(*KEPT))


def _one_statement() -> Any:
    rotated = _update().returning(*KEPT, SESSIONS.c.user_id).cte("rotated")
    audited = insert(AUDIT).from_select(
        ["event", "user_id", "client_id", "ip", "user_agent", "detail", "at"],
        select(bindparam("event", type_=String), rotated.c.user_id, null(),
               bindparam("ip", type_=AUDIT.c.ip.type),
               bindparam("agent_", type_=AUDIT.c.user_agent.type),
               bindparam("detail", type_=AUDIT.c.detail.type),
               bindparam("at", type_=AUDIT.c.at.type)).select_from(rotated),
    ).cte("audited")
    return select(*(rotated.c[column.name] for column in KEPT)).add_cte(audited)


# PostgreSQL: the rotation and its audit row in one statement.
ROTATE_AUDITED = db.Prepared(_one_statement(), dialects=(psycopg.dialect(),))


@dataclass(frozen=True)
class Rotated:
    """What a consumed refresh token's session and user say now."""

    jkt: str | None  # the key the session is bound to (now), if any
    sign_in: tokens.SignIn | None
    client_id: str | None  # an app's session: its grant
    scope: str | None
    audience: tuple[str, ...]
    profile: dict[str, Any] | None  # None: the user is gone


def consume(claims: dict[str, Any], meta: ClientMeta, new_jti: str,
            jkt: str | None, *, in_transaction: bool) -> Rotated | None:
    """Rotate the session of a refresh token's `claims` to `new_jti`, and audit it; None
    when the token is not the session's current one (used, revoked, another key's).

    `in_transaction`: the caller writes more before its commit (the grace row), so the
    statement joins the request's transaction rather than committing on its own.
    """
    session_id = claims["sid"]
    detail = {"session_id": session_id}
    params = {"sid": session_id, "jti": claims["jti"], "sub": claims["sub"],
              "new_jti": new_jti, "now": utcnow(), "ip": meta.ip, "agent": meta.user_agent,
              "expires_at": expiry(), "jkt": jkt}
    if db.engine().dialect.name == "postgresql":
        params.update(event="refresh", agent_=meta.user_agent, detail=detail, at=params["now"])
        who = {"user_id": claims["sub"]}
        if in_transaction:
            connection = db.orm().connection()
            rows = ROTATE_AUDITED.within(connection, params)
            found = users.PROFILE.within(connection, who) if rows else []
        else:
            rows = ROTATE_AUDITED.rows(params, retry=False)
            found = users.PROFILE.rows(who) if rows else []
        if not rows:
            return None
        audit.recorded("refresh", user_id=claims["sub"], detail=detail, origin=meta)
        return _rotated(rows[0], users.profile_of(found) if found else None)
    # SQLite: the UPDATE, the roles and the audit row on the request's one connection
    # (the roles read in the writing transaction, as the one statement does).
    connection = db.orm().connection()
    rotated = ROTATE.within(connection, params)
    if not rotated:
        return None
    found = users.PROFILE.within(connection, {"user_id": claims["sub"]})
    # None: the user was deleted in the meantime (its sessions went with it)
    profile = users.profile_of(found) if found else None
    audit.record("refresh", user_id=claims["sub"], detail=detail, origin=meta,
                 connection=connection)
    return _rotated(rotated[0], profile)


def _rotated(row: tuple[Any, ...], profile: dict[str, Any] | None) -> Rotated:
    return Rotated(jkt=row[0], sign_in=tokens.SignIn.stored(*row[1:4]), client_id=row[4],
                   scope=row[5], audience=tuple(row[6] or ()), profile=profile)


def expiry() -> Any:
    """When a session used now expires (AUTHAPI_REFRESH_TTL from now)."""
    return utcnow() + timedelta(seconds=int(context.app().config["AUTHAPI_REFRESH_TTL"]))
