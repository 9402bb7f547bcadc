"""The `authapi` command: serve, migrate, manage users and keys, purge."""

from __future__ import annotations

import json
import os
import shutil
import sys
import typing
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import click
from flask import Flask
from sqlalchemy import delete, or_
from sqlalchemy.exc import SQLAlchemyError

from authapi import bootstrap, create_app, db, migrations
from authapi.accounts import accounts
from authapi.accounts import users as users_
from authapi.admin import admin
from authapi.admin import roles as roles_
from authapi.config import ConfigError
from authapi.db import utcnow
from authapi.errors import ApiError
from authapi.models import (
    AuditEvent,
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
from authapi.oauth import clients
from authapi.tokens import keys, replay


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
    _metrics_folder(Path(app.instance_path) / "prometheus")
    argv = [sys.executable, "-m", "gunicorn", "--bind", f"{host}:{port}",
            "--workers", str(workers), "--graceful-timeout", "10",
            "--worker-class", "authapi.gunicorn_worker.ProblemWorker",  # problem+json errors
            "--no-control-socket", "--config", "python:authapi.gunicorn_conf",
            "--forwarded-allow-ips", os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1"),
            "authapi.wsgi:app"]
    os.execv(sys.executable, argv)  # noqa: S606  (replaces this process with gunicorn)


def _metrics_folder(folder: Path) -> None:
    """Empty the workers' metrics folder and point prometheus-client at it (multiprocess)."""
    shutil.rmtree(folder, ignore_errors=True)  # stale files would be summed with new ones
    folder.mkdir(parents=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)  # read by the workers after execv


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
    with _domain():
        user = admin.set_user_roles(_user_id(email), list(roles))
        db.orm().commit()
        click.echo(json.dumps({"id": user.id, "email": user.email, "roles": user.role_names()}))


# --- administration without HTTP: the same domain functions as /admin (issue 9) ---


@contextmanager
def _domain() -> Iterator[None]:
    """An app context in which a domain error becomes a one-line message, not a traceback."""
    with _app().app_context():
        try:
            yield
        except ApiError as exc:
            fields = f" {json.dumps(exc.errors)}" if exc.errors else ""
            raise click.ClickException(f"{exc.detail}{fields}") from None


def _user_id(email: str) -> str:
    found = users_.by_email(email)
    if found is None:
        raise click.ClickException(f"no user with email {email}")
    return found.id


def _print(value: Any) -> None:
    click.echo(json.dumps(value, default=lambda v: v.isoformat()))


@users.command(name="list")
@click.option("--q", "query", help="Search emails and display names.")
@click.option("--page", default=1, show_default=True, type=click.IntRange(min=1))
@click.option("--per-page", default=20, show_default=True, type=click.IntRange(1, 100))
def list_users(query: str | None, page: int, per_page: int) -> None:
    """Print a page of users as JSON, as GET /admin/users answers it."""
    with _domain():
        items, total = admin.list_page(query, page, per_page)
        _print({"items": items, "page": page, "per_page": per_page, "total": total})


@users.command(name="disable")
@click.option("--email", required=True)
@click.option("--enable", is_flag=True, help="Enable the account again instead.")
def disable_user(email: str, enable: bool) -> None:
    """Disable a user and revoke every token of theirs at once (never the last admin)."""
    with _domain():
        user = admin.update_user(_user_id(email), {"disabled": not enable})
        db.orm().commit()
        _print(admin.view(user))


@main.group(name="roles")
def roles_group() -> None:
    """Roles and their permissions (`resource:action`)."""


@roles_group.command(name="create")
@click.option("--name", required=True)
@click.option("--permission", "permissions", multiple=True, help="Repeatable.")
def create_role(name: str, permissions: tuple[str, ...]) -> None:
    """Create a role holding these permissions."""
    with _domain():
        role = roles_.create(name, list(permissions))
        db.orm().commit()
        _print(roles_.view(role))


@roles_group.command(name="grant")
@click.option("--name", required=True)
@click.option("--permission", "permissions", multiple=True, required=True, help="Repeatable.")
def grant_role(name: str, permissions: tuple[str, ...]) -> None:
    """Add permissions to a role; its holders' access tokens issued before now stop working."""
    with _domain():
        role = roles_.grant(name, list(permissions))
        db.orm().commit()
        _print(roles_.view(role))
@main.group(name="clients")
def clients_group() -> None:
    """Service clients (OAuth 2 client credentials)."""


@clients_group.command(name="create")
@click.option("--name", required=True)
@click.option("--scope", default="", help='Space-separated, e.g. "orders:read orders:write".')
@click.option("--exchange", is_flag=True, help="May exchange user tokens (RFC 8693).")
@click.option("--jwks-file", type=click.File("r"),
              help="Authenticates by private_key_jwt with these public keys; no secret.")
@click.option("--jwks-url", help="Authenticates by private_key_jwt with keys fetched here.")
def create_client(name: str, scope: str, exchange: bool, jwks_file: typing.IO[str] | None,
                  jwks_url: str | None) -> None:
    """Register a client; prints {"client_id", "client_secret"} (the secret only this once)."""
    try:
        jwks = json.load(jwks_file) if jwks_file else None
    except ValueError:
        raise click.ClickException("--jwks-file is not JSON") from None
    app = _app()
    with app.app_context():
        try:
            created = clients.create(name, scope, exchange, jwks, jwks_url)
        except ApiError as exc:
            raise click.ClickException(f"{exc.detail} {exc.errors or ''}".strip()) from None
        db.orm().commit()
    answer = {"client_id": created["client_id"], "client_secret": created["client_secret"]}
    if created["client_secret"] is None:
        del answer["client_secret"]
    click.echo(json.dumps(answer))


@clients_group.command(name="delete")
@click.option("--client-id", required=True)
def delete_client(client_id: str) -> None:
    """Delete a client; every token it holds stops working."""
    app = _app()
    with app.app_context():
        client = clients.caller(client_id)
        if client is None:
            raise click.ClickException(f"no enabled client {client_id}")
        clients.delete(client.id)
        db.orm().commit()
    click.echo(json.dumps({"deleted": client_id}))


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
    """Delete what has expired: revocations, sessions, challenges, DPoP proofs, links, old
    mail and reset requests, used assertions, counters, old audit events, and keys no
    live token can need.

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
