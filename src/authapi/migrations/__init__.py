"""Alembic, driven from the application: upgrade, downgrade, check.

The migration scripts (env.py, script.py.mako, versions/) live in this package, so an
installed wheel carries them, and the Alembic config is built here in code: no
alembic.ini is read at run time. The root alembic.ini only serves developers who run
the `alembic` command itself (`alembic revision --autogenerate`).
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

SCRIPT_LOCATION = Path(__file__).resolve().parent


def alembic_config(database_url: str) -> Config:
    """An Alembic config bound to a database URL, with the scripts of this package."""
    cfg = Config()
    # set_main_option interpolates: a "%" in the install path must be doubled.
    cfg.set_main_option("script_location", str(SCRIPT_LOCATION).replace("%", "%%"))
    # Alembic 1.16+ warns when a path option is split without a declared separator.
    cfg.set_main_option("path_separator", "os")
    cfg.attributes["database_url"] = database_url
    cfg.attributes["configure_logger"] = False
    return cfg


def upgrade(database_url: str, revision: str = "head") -> None:
    """Apply migrations up to `revision`."""
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str = "base") -> None:
    """Revert migrations down to `revision`."""
    command.downgrade(alembic_config(database_url), revision)


def check(database_url: str) -> None:
    """Fail if the models and the migrations disagree."""
    command.check(alembic_config(database_url))
