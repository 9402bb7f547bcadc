"""After the run: nothing half-written. Queries over sessions, refresh chains and the audit
log, and the harness's own record of every session it opened, compared row by row."""

from __future__ import annotations

from typing import Any

import psycopg

from .client import Tracker
from .events import EventLog

# name -> a query counting rows that break the rule (0 is consistent).
RULES = {
    "revoked_at and revoked_reason are set together": """
        SELECT count(*) FROM sessions
        WHERE (revoked_at IS NULL) <> (revoked_reason IS NULL)""",
    "every user session has exactly one login event": """
        SELECT count(*) FROM sessions s
        WHERE s.client_id IS NULL AND (SELECT count(*) FROM audit_events a
              WHERE a.event = 'login' AND a.detail->>'session_id' = s.id) <> 1""",
    "every login, refresh and logout event names an existing session": """
        SELECT count(*) FROM audit_events a
        WHERE a.event IN ('login', 'refresh', 'logout', 'token_reused')
          AND NOT EXISTS (SELECT 1 FROM sessions s WHERE s.id = a.detail->>'session_id')""",
    "every event of a session is by that session's user": """
        SELECT count(*) FROM audit_events a JOIN sessions s ON s.id = a.detail->>'session_id'
        WHERE a.event IN ('login', 'refresh', 'logout', 'token_reused')
          AND a.user_id IS DISTINCT FROM s.user_id""",
    "a grace row's successor is its session's current refresh token": """
        SELECT count(*) FROM refresh_grace g JOIN sessions s ON s.id = g.session_id
        WHERE g.successor_jti <> s.refresh_jti""",
    "a session revoked for reuse has its token_reused event": """
        SELECT count(*) FROM sessions s
        WHERE s.revoked_reason = 'token_reused' AND NOT EXISTS (SELECT 1 FROM audit_events a
              WHERE a.event = 'token_reused' AND a.detail->>'session_id' = s.id)""",
    "a session ended by logout has its logout event": """
        SELECT count(*) FROM sessions s
        WHERE s.revoked_reason = 'logout' AND NOT EXISTS (SELECT 1 FROM audit_events a
              WHERE a.event = 'logout' AND a.detail->>'session_id' = s.id)""",
    "every revoked session is in the revocation feed": """
        SELECT count(*) FROM sessions s
        WHERE s.revoked_at IS NOT NULL AND NOT EXISTS (SELECT 1 FROM revocation_events e
              WHERE e.session_id = s.id)""",
}

SESSIONS = """
    SELECT s.id, s.refresh_jti, s.revoked_at IS NOT NULL,
           (SELECT count(*) FROM audit_events a
            WHERE a.event = 'refresh' AND a.detail->>'session_id' = s.id
              AND a.detail->>'grace' IS NULL)  -- a grace replay is no rotation
    FROM sessions s"""


def check(log: EventLog, dsn: str, tracker: Tracker) -> dict[str, Any]:
    """Run every rule and the row-by-row comparison; each one is a `consistency` check."""
    found: dict[str, Any] = {}
    with psycopg.connect(dsn, autocommit=True) as conn:
        for rule, query in RULES.items():
            row = conn.execute(query).fetchone()
            bad = int(row[0]) if row else -1
            found[rule] = bad
            log.check("consistency", bad == 0, f"{rule}: {bad} rows break it")
        rows = {r[0]: r[1:] for r in conn.execute(SESSIONS).fetchall()}
    compared = mismatched = 0
    for sid, mine in tracker.sessions.items():
        if not mine.certain:
            continue
        compared += 1
        db = rows.get(sid)
        problem = ""
        if db is None:
            problem = "missing from the database"
        elif db[1] == mine.alive:
            problem = f"revoked={db[1]} but the harness expects alive={mine.alive}"
        elif mine.alive and db[0] != mine.refresh_jti:
            problem = "its refresh chain is not at the token the client holds"
        elif db[2] != mine.rotations:
            problem = f"{db[2]} refresh events for {mine.rotations} rotations the client saw"
        if problem:
            mismatched += 1
            log.check("consistency", False, f"session {sid}: {problem}")
        else:
            log.check("consistency", True)
    found["sessions compared with the harness"] = compared
    found["sessions that differ"] = mismatched
    found["sessions the harness could not know (answer lost for good)"] = sum(
        not s.certain for s in tracker.sessions.values())
    return found
