"""Account lockout as a growing, capped back-off that an attacker cannot stretch.

Failures are counted per account key (a SHA-256 of the normalized email, whether
or not the account exists, so a lock says nothing about existence), in the
database every worker and instance shares. With f failures since the first of
the current window:
- f < FREE (AUTHAPI_LOGIN_BACKOFF_AFTER, at most MAX): no wait;
- FREE <= f < MAX: wait BASE * 2**(f - FREE) seconds after the last failure, capped;
- f >= MAX (AUTHAPI_LOGIN_MAX_FAILURES): wait the cap (AUTHAPI_LOGIN_LOCKOUT_CAP).
While an account waits, attempts answer 429 `account_locked` without looking at
the password and are not counted: the lock never outlasts the cap after the last
failure the server actually judged, however fast anyone knocks. A success resets
the count; so does a quiet window (AUTHAPI_LOGIN_FAILURE_WINDOW) since the first.
"""

from __future__ import annotations

import hashlib
import math
import time
from typing import cast

from flask import current_app
from sqlalchemy import Table, case, delete, select

from authapi import db
from authapi.accounts.users import normalize_email
from authapi.errors import AccountLocked
from authapi.models import LoginFailure

TABLE = cast(Table, LoginFailure.__table__)
clock = time.time  # the one clock of the back-off; tests move it instead of sleeping


def key(email: str) -> str:
    """The stored key of an account: no email kept in the clear."""
    # surrogatepass: a lone surrogate is still counted here; the schema then answers 422.
    return hashlib.sha256(normalize_email(email[:320]).encode("utf-8", "surrogatepass")
                          ).hexdigest()



def backoff(failures: int) -> float:
    """Seconds an account waits after its latest failure, for this many failures."""
    config = current_app.config
    cap = float(config["AUTHAPI_LOGIN_LOCKOUT_CAP"])
    most = int(config["AUTHAPI_LOGIN_MAX_FAILURES"])
    free = min(int(config["AUTHAPI_LOGIN_BACKOFF_AFTER"]), most)
    if failures < free:
        return 0.0
    if failures >= most:
        return cap
    return min(float(config["AUTHAPI_LOGIN_BACKOFF_BASE"]) * 2 ** (failures - free), cap)


def check(account: str) -> None:
    """Raise AccountLocked (with Retry-After) while the account must wait."""
    with db.engine().connect() as conn:
        row = conn.execute(select(TABLE.c.failures, TABLE.c.first_at, TABLE.c.last_at)
                           .where(TABLE.c.key == account)).first()
    if row is None:
        return
    failures, first_at, last_at = int(row[0]), float(row[1]), float(row[2])
    now = clock()
    if now - first_at > float(current_app.config["AUTHAPI_LOGIN_FAILURE_WINDOW"]) and \
            now - last_at >= backoff(failures):
        return  # a quiet window: the next failure starts a new count
    wait = last_at + backoff(failures) - now
    if wait > 0:
        raise AccountLocked(headers={"Retry-After": str(max(1, math.ceil(wait)))})


def failed(account: str) -> None:
    """Count one judged failure: one atomic upsert, a new window if the old one is over."""
    now = clock()
    window = float(current_app.config["AUTHAPI_LOGIN_FAILURE_WINDOW"])
    stale = TABLE.c.first_at < now - window
    engine = db.engine()
    statement = db.upsert(engine, TABLE).values(
        key=account, failures=1, first_at=now, last_at=now,
    ).on_conflict_do_update(index_elements=[TABLE.c.key], set_={
        "failures": case((stale, 1), else_=TABLE.c.failures + 1),
        "first_at": case((stale, now), else_=TABLE.c.first_at),
        "last_at": now,
    })
    with engine.begin() as conn:
        conn.execute(statement)


def succeeded(account: str) -> None:
    """A correct password: the count starts again from zero."""
    with db.engine().begin() as conn:
        conn.execute(delete(TABLE).where(TABLE.c.key == account))
