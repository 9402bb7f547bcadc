"""The app's base: its settings, its instance folder and its database, nothing else.

`create_app` builds the whole API on it; `authapi serve` and `authapi db upgrade` use it
alone to migrate and seed, so the process that starts gunicorn does not import the
API's views, OAuth client or WebAuthn libraries only to hand over to the workers that
import them again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from inspect import CO_COROUTINE
from pathlib import Path
from typing import Any

from flask import Flask

from authapi import config as settings
from authapi import db


class App(Flask):
    """Flask, deciding `ensure_sync` from a function's code flags.

    Flask asks `ensure_sync` of the view and of every hook on every request (four or
    five times a request here), and answers with `inspect.iscoroutinefunction`, six
    Python calls each. A plain function whose code is not a coroutine's is returned as
    it is, as Flask would; anything else (a partial, a callable object, an `async def`)
    goes to Flask's own answer.
    """

    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        """`func` itself when its code is synchronous, else Flask's `ensure_sync`."""
        code = getattr(func, "__code__", None)
        if code is not None and not code.co_flags & CO_COROUTINE:
            return func
        return super().ensure_sync(func)


def create_base(config: Mapping[str, Any] | None = None) -> Flask:
    """A Flask app with the resolved settings, the instance folder and the database."""
    values = settings.resolve(config)
    instance = Path(values["AUTHAPI_INSTANCE_PATH"] or Path.cwd() / "instance").resolve()
    app = App("authapi", instance_path=str(instance), static_folder=None)
    app.config.update(values)
    app.config["SECRET_KEY"] = values["AUTHAPI_SECRET_KEY"]
    db.init_app(app)
    return app
