"""Column types, ids, permissions and role rules shared by every table."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    ForeignKey,
    Integer,
    Table,
    TypeDecorator,
)
from sqlalchemy.engine import Dialect

from authapi.db import Model

# Every permission the service knows; the built-in role `admin` holds them all.
PERMISSIONS = (
    "users:read",
    "users:write",
    "roles:read",
    "roles:write",
    "clients:read",
    "clients:write",
    "audit:read",
)
ADMIN_ROLE = "admin"
DEFAULT_ROLE = "user"

# SQLite only auto-increments an INTEGER PRIMARY KEY.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored as naive UTC and always returned timezone-aware."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Store naive UTC."""
        if value is None:
            return None
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Read back as aware UTC."""
        return None if value is None else value.replace(tzinfo=UTC)


def new_id() -> str:
    """A random identifier for rows whose ids are shown to clients."""
    return str(uuid.uuid4())


user_roles = Table(
    "user_roles",
    Model.metadata,
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("role_id", ForeignKey("roles.id", ondelete="CASCADE"), primary_key=True),
)


def role_scope(name: str, permissions: list[str] | None) -> list[str]:
    """The permissions a role grants: `admin` every one, any other its own list."""
    return list(PERMISSIONS) if name == ADMIN_ROLE else list(permissions or ())
