"""The `authapi` command: serve, migrate, manage users and keys, purge."""

from __future__ import annotations

import json
import os
import sys
from datetime import datetime, timedelta
from typing import Any

import click
from flask import Flask
from sqlalchemy import delete, or_
from sqlalchemy.exc import SQLAlchemyError

from . import accounts, bootstrap, create_app, db, keys, migrations
from . import users as users_
from .config import ConfigError
from .db import utcnow
from .errors import ApiError
from .models import (
    AuditEvent,
    LoginFailure,
    RateLimit,
    RevocationEvent,
    RevokedToken,
    SigningKey,
    UserSession,
)


def _app() -> Flask:
    try:
        return create_app()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def _upgrade(app: Flask) -> None:
    migrations.upgrade(db.database_url(app))
    bootstrap.run(app)


@click.group()
def main() -> None:
    """authapi: authentication and authorization service."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int)
@click.option("--migrate/--no-migrate", default=None,
              help="Apply migrations first (default: only on the embedded SQLite database).")
def serve(host: str, port: int, workers: int, migrate: bool | None) -> None:
    """Serve the API with gunicorn."""
    app = _app()
    try:
        if migrate or (migrate is None and not app.config["AUTHAPI_DATABASE_URL"]):
            _upgrade(app)
        else:
            bootstrap.run(app)
    except SQLAlchemyError as exc:
        raise click.ClickException(
            f"the database is not ready ({type(exc).__name__}); run `authapi db upgrade` "
            "or pass --migrate") from None
    db.dispose(app)  # no connections may cross the fork
    argv = [sys.executable, "-m", "gunicorn", "--bind", f"{host}:{port}",
            "--workers", str(workers), "--worker-class", "sync", "--graceful-timeout", "10",
            "--no-control-socket",
            "--config", "python:authapi.gunicorn_conf",
            "--forwarded-allow-ips", os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1"),
            "authapi.wsgi:app"]
    os.execv(sys.executable, argv)  # noqa: S606  (replaces this process with gunicorn)


@main.group(name="db")
def db_group() -> None:
    """Database schema."""


@db_group.command()
def upgrade() -> None:
    """Apply every migration and seed the built-in roles and a signing key."""
    _upgrade(_app())
    click.echo("database is up to date")


@main.group()
def users() -> None:
    """User accounts."""


@users.command(name="create")
@click.option("--email", required=True)
@click.option("--role", "roles", multiple=True, help="Repeatable; default: user.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def create_user(email: str, roles: tuple[str, ...], password_stdin: bool) -> None:
    """Create a user (the password is prompted for without echo unless --password-stdin)."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    app = _app()
    with app.app_context():
        try:
            user = accounts.create(email, password, roles=roles or ("user",))
        except ApiError as exc:
            raise click.ClickException(exc.detail) from None
        db.orm().commit()
        click.echo(json.dumps({"id": user.id, "email": user.email, "roles": user.role_names()}))


@users.command(name="roles")
@click.option("--email", required=True)
@click.option("--role", "roles", multiple=True, required=True, help="Repeatable.")
def set_user_roles(email: str, roles: tuple[str, ...]) -> None:
    """Replace a user's roles; their access tokens issued before now stop working."""
    app = _app()
    with app.app_context():
        try:
            found = users_.by_email(email)
            if found is None:
                raise click.ClickException(f"no user with email {email}")
            user = accounts.set_roles(found.id, roles)
        except ApiError as exc:
            raise click.ClickException(exc.detail) from None
        db.orm().commit()
        click.echo(json.dumps({"id": user.id, "email": user.email, "roles": user.role_names()}))


@main.group(name="keys")
def keys_group() -> None:
    """Signing keys."""


@keys_group.command()
def rotate() -> None:
    """Sign with a new key from now on; old keys keep verifying until their tokens expire."""
    app = _app()
    algorithm = app.config["AUTHAPI_JWT_ALGORITHM"]
    if algorithm == "HS256":
        raise click.ClickException("HS256 signs with AUTHAPI_SECRET_KEY: rotate that secret")
    with app.app_context():
        row = keys.rotate(db.orm(), algorithm, app.config["AUTHAPI_SECRET_KEY"])
        db.orm().commit()
        click.echo(json.dumps({"kid": row.kid, "alg": algorithm}))


@main.command()
def purge() -> None:
    """Delete expired revocations, sessions, keys, counters and old audit events.

    Run it hourly (cron, a systemd timer, a Kubernetes CronJob): every table it
    trims grows with traffic, and each delete is one indexed range.
    """
    app = _app()
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
                SigningKey.retired_at < now - lifetime)),
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
