"""The `authapi` command: serve, migrate, manage users, roles, clients and keys, purge.

Each module adds its commands to `main` (the console script `authapi = authapi.cli:main`).
"""

from __future__ import annotations

from authapi.cli import cleanup, manage, server  # noqa: F401  (each registers its commands)
from authapi.cli.base import main

__all__ = ["main"]
