"""Consuming a refresh token: the rotation, its audit row and the user's roles, in as few
round trips as the database allows.

On PostgreSQL one statement does it all: a data-modifying CTE (`WITH rotated AS (UPDATE
... RETURNING ...), audited AS (INSERT INTO audit_events ...) SELECT ... roles`), so a
refresh with the grace window off is one round trip in autocommit, where the ORM's
transaction cost five (BEGIN, UPDATE, the roles, the audit INSERT, COMMIT). With the
window on it runs in the request's transaction, which the grace row joins before the
commit.

One race is caught, not prevented: a statement reads the roles as they were when it
began, while its UPDATE works on the session row as it is once any lock on it is
released. A role change commits its new roles together with a new `access_not_before`
on every live session of the user, under that lock (sessions.py). So the statement
also reads the session's `access_not_before` as of its start and returns the one its
UPDATE saw: when they differ, a change committed in between, and the roles are read
again in a statement of their own (rare: the refresh must overlap the change).

SQLite cannot put DML in a CTE: there it is the UPDATE, then the roles, then the audit
INSERT, in the request's transaction (no round trips in-process); its one writer makes
a refresh wait for a role change whole.

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
from authapi.models import AuditEvent, Role, User, UserSession, user_roles
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
                dpop_jkt=func.coalesce(SESSIONS.c.dpop_jkt, bindparam("bind_jkt")))
    )


# SQLite: the UPDATE alone, on the request's transaction.
ROTATE = db.Prepared(_update().returning(*KEPT))


def _one_statement() -> Any:
    rotated = _update().returning(*KEPT, SESSIONS.c.user_id,
                                  SESSIONS.c.access_not_before).cte("rotated")
    began = (select(SESSIONS.c.access_not_before).where(SESSIONS.c.id == bindparam("sid"))
             .scalar_subquery())  # as of the statement's start
    audited = insert(AUDIT).from_select(
        ["event", "user_id", "client_id", "ip", "user_agent", "detail", "at"],
        select(bindparam("event", type_=String), rotated.c.user_id, null(),
               bindparam("ip", type_=AUDIT.c.ip.type),
               bindparam("agent_", type_=AUDIT.c.user_agent.type),
               bindparam("detail", type_=AUDIT.c.detail.type),
               bindparam("at", type_=AUDIT.c.at.type)).select_from(rotated),
    ).cte("audited")
    return (
        select(*(rotated.c[column.name] for column in KEPT), *PROFILE,
               rotated.c.access_not_before, began)
        .select_from(rotated.join(User, User.id == rotated.c.user_id)
                     .outerjoin(user_roles, user_roles.c.user_id == User.id)
                     .outerjoin(Role, Role.id == user_roles.c.role_id))
        .add_cte(audited)
    )


# PostgreSQL: rotation, audit row and roles in one statement; its last two columns are
# the session's access_not_before as its UPDATE saw it and as the statement began.
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
            jkt: str | None, *, in_transaction: bool, bind: bool = True) -> Rotated | None:
    """Rotate the session of a refresh token's `claims` to `new_jti`, and audit it; None
    when the token is not the session's current one (used, revoked, another key's).

    `in_transaction`: the caller writes more before its commit (the grace row), so the
    statement joins the request's transaction rather than committing on its own.
    `bind`: an unbound session is bound to `jkt` (not for a confidential app's session,
    RFC 9449 §5).
    """
    session_id = claims["sid"]
    detail = {"session_id": session_id}
    params = {"sid": session_id, "jti": claims["jti"], "sub": claims["sub"],
              "new_jti": new_jti, "now": utcnow(), "ip": meta.ip, "agent": meta.user_agent,
              "expires_at": expiry(), "jkt": jkt, "bind_jkt": jkt if bind else None}
    if db.engine().dialect.name == "postgresql":
        params.update(event="refresh", agent_=meta.user_agent, detail=detail, at=params["now"])
        connection = db.orm().connection() if in_transaction else None
        rows = (ROTATE_AUDITED.within(connection, params) if connection is not None
                else ROTATE_AUDITED.rows(params, retry=False))
        if not rows:
            return None
        audit.recorded("refresh", user_id=claims["sub"], detail=detail, origin=meta)
        found = [row[len(KEPT):-2] for row in rows]
        if rows[0][-2] != rows[0][-1]:  # a role change committed while the UPDATE waited
            who = {"user_id": claims["sub"]}
            found = (users.PROFILE.within(connection, who) if connection is not None
                     else users.PROFILE.rows(who))
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
