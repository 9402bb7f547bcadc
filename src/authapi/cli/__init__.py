"""The `authapi` command: serve, migrate, manage users, roles, clients and keys, purge.

`main` (the console script `authapi = authapi.cli:main`) loads each command's module
only when that command runs (`base.LazyGroup`).
"""

from __future__ import annotations

from authapi.cli.base import main

__all__ = ["main"]
