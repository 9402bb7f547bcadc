"""`authapi purge`: delete what has expired."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import click
from sqlalchemy import delete, or_

from authapi import db
from authapi.cli.base import load_app
from authapi.db import utcnow
from authapi.models import (
    AuditEvent,
    AuthorizationRequest,
    LinkToken,
    LoginFailure,
    OutboxMail,
    RateLimit,
    ResetRequest,
    RevocationEvent,
    RevokedToken,
    SigningKey,
    UsedAssertion,
    UserSession,
    WebauthnChallenge,
)
from authapi.tokens import keys, replay


@click.command()
def purge() -> None:
    """Delete what has expired: revocations, sessions, challenges, DPoP proofs, links, old
    mail and reset requests, used assertions, counters, old audit events, and keys no
    live token can need.

    Run it hourly (cron, a systemd timer, a Kubernetes CronJob): every table it
    trims grows with traffic, and each delete is one indexed range.
    """
    app = load_app()
    now = utcnow()
    config = app.config
    lifetime = timedelta(seconds=max(int(config["AUTHAPI_ACCESS_TTL"]),
                                     int(config["AUTHAPI_REFRESH_TTL"])))
    with app.app_context():
        session = db.orm()
        counts = {
            "revoked_tokens": db.affected(
                delete(RevokedToken).where(RevokedToken.expires_at < now)),
            "sessions": db.affected(delete(UserSession).where(or_(
                UserSession.expires_at < now, UserSession.revoked_at < now - lifetime))),
            "revocation_events": db.affected(delete(RevocationEvent).where(
                RevocationEvent.at < now - timedelta(hours=1))),
            "signing_keys": db.affected(delete(SigningKey).where(
                SigningKey.retired_at < now - keys.kept_for(config))),
            "webauthn_challenges": db.affected(delete(WebauthnChallenge).where(
                WebauthnChallenge.expires_at < now)),
            "dpop_proofs": replay.purge(),
            "used_assertions": db.affected(delete(UsedAssertion).where(
                UsedAssertion.expires_at < now)),
            # Account lifecycle: dead links, mail sent a day ago or given up a week ago,
            # and reset requests handled a day ago.
            "link_tokens": db.affected(delete(LinkToken).where(LinkToken.expires_at < now)),
            "mail_outbox": db.affected(delete(OutboxMail).where(or_(
                OutboxMail.sent_at < now - timedelta(days=1),
                OutboxMail.failed_at < now - timedelta(days=7)))),
            "reset_requests": db.affected(delete(ResetRequest).where(
                ResetRequest.handled_at < now - timedelta(days=1))),
            # Authorization requests a day past their end: a code reused until then still
            # revokes what its first use issued (RFC 6749 §4.1.2).
            "oauth_requests": db.affected(delete(AuthorizationRequest).where(
                AuthorizationRequest.expires_at < now - timedelta(days=1))),
            **purge_hardening(config, now),
        }
        session.commit()
        click.echo(json.dumps(counts))


def purge_hardening(config: Any, now: datetime) -> dict[str, int]:
    """Expired rate-limit windows, forgotten login failures, audit events past retention."""
    epoch = now.timestamp()
    quiet = max(float(config["AUTHAPI_LOGIN_FAILURE_WINDOW"]),
                float(config["AUTHAPI_LOGIN_LOCKOUT_CAP"]))
    counts = {
        "rate_limits": db.affected(delete(RateLimit).where(RateLimit.expires_at < epoch)),
        "login_failures": db.affected(delete(LoginFailure).where(
            LoginFailure.last_at < epoch - quiet)),
    }
    days = int(config["AUTHAPI_AUDIT_RETENTION_DAYS"])
    if days > 0:
        counts["audit_events"] = db.affected(delete(AuditEvent).where(
            AuditEvent.at < now - timedelta(days=days)))
    return counts
