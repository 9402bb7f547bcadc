"""`authapi purge` also drops dead link tokens, mail long sent or given up, and reset requests
handled a day ago."""

from datetime import timedelta

from sqlalchemy import create_engine, text

from authapi import db
from authapi.accounts import accounts
from authapi.db import utcnow
from authapi.models import LinkToken, OutboxMail, ResetRequest
from conftest import PASSWORD


def ids(url, sql):
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return sorted(row[0] for row in conn.execute(text(sql)))
    finally:
        engine.dispose()


def test_purge_drops_dead_links_old_mail_and_old_reset_requests(cli, empty_database_url, make_app):
    url = empty_database_url
    assert cli("db", "upgrade", env={"AUTHAPI_DATABASE_URL": url}).returncode == 0
    now, day = utcnow(), timedelta(days=1)
    with make_app(AUTHAPI_DATABASE_URL=url).app_context():
        user = accounts.create("purge@example.com", PASSWORD)
        db.orm().add_all([
            LinkToken(token_hash="dead", user_id=user.id, purpose="x", email="e",
                      expires_at=now - day),
            LinkToken(token_hash="live", user_id=user.id, purpose="x", email="e",
                      expires_at=now + day),
            *(OutboxMail(id=i, recipient="r", subject="s", body="", **fields) for i, fields in (
                (1, {"sent_at": now - 2 * day}), (2, {"sent_at": now}),
                (3, {"failed_at": now - 8 * day}), (4, {"failed_at": now - day}), (5, {}))),
            *(ResetRequest(id=i, email="e", requested_at=now - 3 * day, **fields)
              for i, fields in ((1, {"handled_at": now - 2 * day}), (2, {"handled_at": now}),
                                (3, {})))])
        db.orm().commit()
    assert cli("purge", env={"AUTHAPI_DATABASE_URL": url}).returncode == 0
    assert ids(url, "SELECT token_hash FROM link_tokens") == ["live"]
    assert ids(url, "SELECT id FROM mail_outbox") == [2, 4, 5]
    assert ids(url, "SELECT id FROM reset_requests") == [2, 3]  # a pending one is kept
