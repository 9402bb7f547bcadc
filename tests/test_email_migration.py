"""Migration 0008 (hardening): emails normalised (NFKC + casefold); collisions reported."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text

from authapi import migrations

INSERT = text("INSERT INTO users (id, email, disabled, email_verified, mfa_enabled, "
              "created_at, updated_at) VALUES (:id, :email, false, false, false, "
              "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)")


def at_0001_with(url: str, emails: list[str]) -> None:
    migrations.upgrade(url, "0001")
    engine = create_engine(url)
    with engine.begin() as conn:
        for number, email in enumerate(emails):
            conn.execute(INSERT, {"id": f"u{number}", "email": email})
    engine.dispose()


def emails(url: str) -> list[tuple[str, str]]:
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT id, email FROM users ORDER BY id")).all()
    engine.dispose()
    return [tuple(row) for row in rows]


def test_upgrade_normalises_stored_emails(empty_database_url):
    at_0001_with(empty_database_url, ["ＡＤＡ@example.com", "Bob@Example.COM", "c@example.com"])
    migrations.upgrade(empty_database_url)
    assert emails(empty_database_url) == [("u0", "ada@example.com"), ("u1", "bob@example.com"),
                                          ("u2", "c@example.com")]


def test_a_collision_is_reported_and_nothing_is_merged(empty_database_url):
    before = ["ｆｗ@example.com", "fw@example.com", "Other@Example.com"]
    at_0001_with(empty_database_url, before)
    with pytest.raises(RuntimeError) as caught:
        migrations.upgrade(empty_database_url)
    assert "fw@example.com" in str(caught.value)
    assert "u0" in str(caught.value) and "u1" in str(caught.value)
    assert emails(empty_database_url) == [("u0", before[0]), ("u1", before[1]),
                                          ("u2", before[2])]
