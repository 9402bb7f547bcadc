"""Alembic environment: the engine comes from authapi's own configuration."""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context

from authapi import models  # noqa: F401  (registers the tables)
from authapi.db import Model, make_disposable_engine

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def _url() -> str:
    url = config.attributes.get("database_url")
    if url:
        return str(url)
    from authapi import create_app
    from authapi.db import database_url

    return database_url(create_app())


def run_migrations_offline() -> None:
    context.configure(url=_url(), target_metadata=Model.metadata, literal_binds=True,
                      render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = make_disposable_engine(_url())
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=Model.metadata,
                          render_as_batch=connection.dialect.name == "sqlite",
                          compare_type=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
