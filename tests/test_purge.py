"""`authapi purge` keeps every table that grows with traffic bounded: only expired rows go."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlalchemy import create_engine, text

from authapi import db
from authapi.db import utcnow
from authapi.models import (
    AuditEvent,
    AuthorizationRequest,
    LoginFailure,
    RateLimit,
    RevocationEvent,
)


def query(url: str, sql: str) -> list[tuple]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return sorted(tuple(row) for row in conn.execute(text(sql)))
    finally:
        engine.dispose()


@pytest.fixture
def filled(cli, empty_database_url, make_app) -> str:
    """A migrated database with one expired and one live row in each table purge trims."""
    assert cli("db", "upgrade", env={"AUTHAPI_DATABASE_URL": empty_database_url}
               ).returncode == 0
    now, epoch = utcnow(), time.time()
    with make_app(AUTHAPI_DATABASE_URL=empty_database_url).app_context():
        db.orm().add_all([
            RateLimit(key="old", hits=3, expires_at=epoch - 1),
            RateLimit(key="live", hits=3, expires_at=epoch + 60),
            LoginFailure(key="old", failures=9, first_at=epoch - 5000, last_at=epoch - 4000),
            LoginFailure(key="live", failures=9, first_at=epoch - 100, last_at=epoch - 10),
            RevocationEvent(session_id="old", at=now - timedelta(hours=2)),
            RevocationEvent(session_id="live", at=now),
            AuditEvent(event="old", at=now - timedelta(days=400)),
            AuditEvent(event="live", at=now - timedelta(days=30)),
            *(AuthorizationRequest(id=name, binding="b", client_id="c", redirect_uri="u",
                                   scope="", code_challenge="x", expires_at=at)
              for name, at in (("old", now - timedelta(days=2)),
                               ("live", now - timedelta(hours=2)))),
        ])
        db.orm().commit()
    return empty_database_url


KEPT = {"SELECT key FROM rate_limits": [("live",)],
        "SELECT key FROM login_failures": [("live",)],
        "SELECT session_id FROM revocation_events": [("live",)],
        "SELECT event FROM audit_events": [("live",)],
        "SELECT id FROM oauth_requests": [("live",)]}


def test_purge_drops_only_expired_rows(cli, filled):
    result = cli("purge", env={"AUTHAPI_DATABASE_URL": filled})
    assert result.returncode == 0, result.stderr
    assert {sql: query(filled, sql) for sql in KEPT} == KEPT


def test_audit_retention_zero_keeps_every_event(cli, filled):
    result = cli("purge", env={"AUTHAPI_DATABASE_URL": filled,
                               "AUTHAPI_AUDIT_RETENTION_DAYS": "0"})
    assert result.returncode == 0, result.stderr
    assert query(filled, "SELECT event FROM audit_events") == [("live",), ("old",)]
