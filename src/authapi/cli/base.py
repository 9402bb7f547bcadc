"""The `authapi` command group and what its commands share: the app, errors as messages."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click
from flask import Flask

from authapi import bootstrap, create_app, db, migrations
from authapi.accounts import users as users_
from authapi.config import ConfigError
from authapi.errors import ApiError


def load_app() -> Flask:
    """The app from the AUTHAPI_* environment; a bad setting is a one-line error."""
    try:
        return create_app()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def migrate_and_seed(app: Flask) -> None:
    """Apply every migration, then seed the built-in roles and a signing key."""
    migrations.upgrade(db.database_url(app))
    bootstrap.run(app)


@click.group()
def main() -> None:
    """authapi: authentication and authorization service."""


# --- administration without HTTP: the same domain functions as /admin (issue 9) ---


@contextmanager
def domain() -> Iterator[None]:
    """An app context in which a domain error becomes a one-line message, not a traceback."""
    with load_app().app_context():
        try:
            yield
        except ApiError as exc:
            fields = f" {json.dumps(exc.errors)}" if exc.errors else ""
            raise click.ClickException(f"{exc.detail}{fields}") from None


def user_id_of(email: str) -> str:
    """The id of the user with this email; else a one-line error."""
    found = users_.by_email(email)
    if found is None:
        raise click.ClickException(f"no user with email {email}")
    return found.id


def print_json(value: Any) -> None:
    """One JSON line on standard output (datetimes as ISO 8601)."""
    click.echo(json.dumps(value, default=lambda v: v.isoformat()))
