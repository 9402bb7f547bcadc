"""The `authapi` command group and what its commands share: the app, errors as messages."""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click
from flask import Flask
from sqlalchemy.exc import InterfaceError, OperationalError, ProgrammingError

import authapi
from authapi import bootstrap, db, migrations
from authapi.config import ConfigError
from authapi.errors import ApiError
from authapi.instance import create_base


def load_app(*, base: bool = False) -> Flask:
    """The app from the AUTHAPI_* environment (with `base`, only its settings and database);
    a bad setting is a one-line error."""
    try:
        return create_base() if base else authapi.create_app()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def migrate_and_seed(app: Flask) -> None:
    """Apply every migration, then seed the built-in roles and a signing key."""
    migrations.upgrade(db.database_url(app))
    bootstrap.run(app)


class LazyGroup(click.Group):
    """click's documented lazily loading group: a command's module is imported when it runs.

    `authapi serve` then imports only what it needs to migrate and hand over to gunicorn,
    not every domain module that `users`, `clients` or `purge` use.
    """

    def __init__(self, *args: Any, lazy: dict[str, str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = lazy

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Every command name, loaded or not."""
        return sorted([*super().list_commands(ctx), *self.lazy])

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command: a database that cannot be reached or is not migrated yet is a
        one-line message, as a bad setting is, never a traceback."""
        try:
            return super().invoke(ctx)
        except (OperationalError, ProgrammingError, InterfaceError) as exc:
            reason = str(getattr(exc, "orig", None) or type(exc).__name__).splitlines()[0]
            raise click.ClickException(f"the database is not ready ({reason}); run "
                                       "`authapi db upgrade`") from None
        except ConfigError as exc:
            raise click.ClickException(str(exc)) from None
        except UnicodeError:  # an argument or stdin that is not UTF-8 (a Latin-1 terminal)
            raise click.ClickException("a value given is not valid UTF-8 text; nothing was "
                                       "changed") from None

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """The command, importing its module on first use."""
        if cmd_name not in self.lazy:
            return super().get_command(ctx, cmd_name)
        module, _, name = self.lazy[cmd_name].rpartition(".")
        command = getattr(importlib.import_module(module), name)
        assert isinstance(command, click.Command), self.lazy[cmd_name]  # noqa: S101
        return command


COMMANDS = {
    "serve": "authapi.cli.server.serve", "db": "authapi.cli.server.db_group",
    "users": "authapi.cli.manage.users", "roles": "authapi.cli.manage.roles_group",
    "clients": "authapi.cli.manage.clients_group", "keys": "authapi.cli.manage.keys_group",
    "purge": "authapi.cli.cleanup.purge",
}


@click.group(cls=LazyGroup, lazy=COMMANDS)
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
            raise refusal(exc) from None


def refusal(exc: ApiError) -> click.ClickException:
    """A domain error as the command's one-line message: its detail, then its fields."""
    fields = f" {json.dumps(exc.errors)}" if exc.errors else ""
    return click.ClickException(f"{exc.detail}{fields}")


def print_json(value: Any) -> None:
    """One JSON line on standard output (datetimes as ISO 8601)."""
    click.echo(json.dumps(value, default=lambda v: v.isoformat()))
