"""Operations: the audit log, the mail outbox, rate-limit counters, login failures."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Float,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from authapi.db import Model, utcnow
from authapi.models.types import (
    BigId,
    UTCDateTime,
)


class AuditEvent(Model):
    """Something security-relevant that happened, kept even when its user is deleted."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    event: Mapped[str] = mapped_column(String(64), index=True)
    user_id: Mapped[str | None] = mapped_column(String(36), index=True)
    client_id: Mapped[str | None] = mapped_column(String(64))
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(512))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class OutboxMail(Model):
    """A mail queued in the request's transaction and sent after commit, with retries.

    The bodies are encrypted (they may hold a one-time link) and blanked once sent.
    """

    __tablename__ = "mail_outbox"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    recipient: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(String(200))


# --- hardening: shared rate-limit counters and the login back-off ---


class RateLimit(Model):
    """A rate-limit counter (a `limits` fixed window) shared by every worker and
    instance on the database when there is no Redis; the key is a SHA-256 of the limit's."""

    __tablename__ = "rate_limits"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    hits: Mapped[int] = mapped_column(Integer, default=0)
    expires_at: Mapped[float] = mapped_column(Float, index=True)  # epoch seconds


class LoginFailure(Model):
    """Consecutive failed logins of one account (SHA-256 of its normalized email, which
    need not exist), the source of its back-off."""

    __tablename__ = "login_failures"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    first_at: Mapped[float] = mapped_column(Float)  # epoch seconds
    last_at: Mapped[float] = mapped_column(Float, index=True)
