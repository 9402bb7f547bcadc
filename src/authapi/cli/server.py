"""`authapi serve` and `authapi db upgrade`."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import click
from flask import Flask
from sqlalchemy.exc import SQLAlchemyError

from authapi import bootstrap, db
from authapi.cli.base import load_app, migrate_and_seed
from authapi.ops import logs


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option("--workers", default=2, show_default=True, type=click.IntRange(min=1))
@click.option("--migrate/--no-migrate", default=None,
              help="Apply migrations first (default: only on the embedded SQLite database).")
def serve(host: str, port: int, workers: int, migrate: bool | None) -> None:
    """Serve the API with gunicorn."""
    app = load_app(base=True)  # the workers build the whole API; this process only migrates
    metrics_port = int(app.config["AUTHAPI_METRICS_PORT"])
    production = app.config["AUTHAPI_ENV"] == "production"
    if production and metrics_port == port:
        raise click.ClickException(
            f"--port {port} is AUTHAPI_METRICS_PORT: in production /metrics is served on a "
            "listener of its own, never on the API port; choose another port for either")
    try:
        if migrate or (migrate is None and not app.config["AUTHAPI_DATABASE_URL"]):
            migrate_and_seed(app)
            _first_admin(app)  # one process, before the workers: as `authapi db upgrade`
        else:
            bootstrap.run(app)
    except SQLAlchemyError as exc:
        raise click.ClickException(
            f"the database is not ready ({type(exc).__name__}); run `authapi db upgrade` "
            "or pass --migrate") from None
    db.dispose(app)  # no connections may cross the fork
    _metrics_folder(Path(app.instance_path) / "prometheus")
    binds = ["--bind", f"{host}:{port}"]
    if production:
        binds += ["--bind", f"{host}:{metrics_port}"]  # /metrics answers only there
    argv = [sys.executable, "-m", "gunicorn", *binds,
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


@click.group(name="db")
def db_group() -> None:
    """Database schema."""


@db_group.command()
def upgrade() -> None:
    """Apply every migration and seed the built-in roles and a signing key (and the first
    admin, with AUTHAPI_BOOTSTRAP_ADMIN_EMAIL)."""
    app = load_app(base=True)
    migrate_and_seed(app)
    _first_admin(app)
    click.echo("database is up to date")


def _first_admin(app: Flask) -> None:
    """AUTHAPI_BOOTSTRAP_ADMIN_*: create the first admin once (accounts/first_admin.py)."""
    if not app.config["AUTHAPI_BOOTSTRAP_ADMIN_EMAIL"]:
        return
    from authapi.accounts import first_admin  # imported only when asked for
    from authapi.errors import ApiError

    with app.app_context():
        try:
            outcome = first_admin.ensure()
        except first_admin.BootstrapError as exc:
            raise click.ClickException(str(exc)) from None
        except ApiError as exc:  # the password policy, or the address taken meanwhile
            raise click.ClickException(
                f"AUTHAPI_BOOTSTRAP_ADMIN_*: {exc.detail}") from None
    email = app.config["AUTHAPI_BOOTSTRAP_ADMIN_EMAIL"]
    if outcome == "created":
        logs.write_line("authapi.bootstrap", "created the first admin", email=email)
    else:
        logs.write_line("authapi.bootstrap", "an admin exists: AUTHAPI_BOOTSTRAP_ADMIN_EMAIL "
                        "left alone", email=email)
