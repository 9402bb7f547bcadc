"""authapi: authentication and authorization for Python web apps, on Flask.

`import authapi` loads nothing of the app: `authapi.resource` (the verifier other services
import) must not pay for Flask-SQLAlchemy-and-friends. `create_app` and the app's public
constants are loaded from `authapi.app` on first use (PEP 562).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from authapi.app import API_SETTINGS, MAX_BODY, create_app

__all__ = ["API_SETTINGS", "MAX_BODY", "create_app"]


def __getattr__(name: str) -> Any:
    """`authapi.create_app` and friends, imported from `authapi.app` when first asked for."""
    if name in __all__:
        from authapi import app

        return getattr(app, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
