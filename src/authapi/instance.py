"""The app's base: its settings, its instance folder and its database, nothing else.

`create_app` builds the whole API on it; `authapi serve` and `authapi db upgrade` use it
alone to migrate and seed, so the process that starts gunicorn does not import the
API's views, OAuth client or WebAuthn libraries only to hand over to the workers that
import them again.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

from authapi import config as settings
from authapi import db


def create_base(config: Mapping[str, Any] | None = None) -> Flask:
    """A Flask app with the resolved settings, the instance folder and the database."""
    values = settings.resolve(config)
    instance = Path(values["AUTHAPI_INSTANCE_PATH"] or Path.cwd() / "instance").resolve()
    app = Flask("authapi", instance_path=str(instance), static_folder=None)
    app.config.update(values)
    app.config["SECRET_KEY"] = values["AUTHAPI_SECRET_KEY"]
    db.init_app(app)
    return app
