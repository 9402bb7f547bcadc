"""The first administrator of a new deployment, without a shell in its container.

With AUTHAPI_BOOTSTRAP_ADMIN_EMAIL and AUTHAPI_BOOTSTRAP_ADMIN_PASSWORD_FILE set,
`authapi db upgrade` (the migration job, one process per deploy) creates that user
with the `admin` role, and only while no user at all holds `admin`: run again, it
does nothing. It never promotes an existing account: someone who signed up with the
address first would otherwise become the admin. The password is read from the file
(a Docker or Kubernetes secret) only when the admin is created, passes the password
policy as any other, and is never printed or logged.
"""

from __future__ import annotations

from pathlib import Path

from flask import current_app
from sqlalchemy import func, select, update

from authapi import db
from authapi.accounts import accounts, users
from authapi.models import ADMIN_ROLE, Role, User, user_roles


class BootstrapError(RuntimeError):
    """The first admin cannot be created as configured (the message says why)."""


def admins() -> int:
    """How many users hold the admin role, disabled ones included."""
    return db.orm().scalar(
        select(func.count()).select_from(User)
        .join(user_roles, user_roles.c.user_id == User.id)
        .join(Role, Role.id == user_roles.c.role_id)
        .where(Role.name == ADMIN_ROLE)) or 0


def read_password(path: str) -> str:
    """The first line of the password file, without its line ending."""
    try:
        first = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise BootstrapError(f"AUTHAPI_BOOTSTRAP_ADMIN_PASSWORD_FILE cannot be read "
                             f"({type(exc).__name__})") from None
    if not first or not first[0]:
        raise BootstrapError("AUTHAPI_BOOTSTRAP_ADMIN_PASSWORD_FILE is empty")
    return first[0]


def ensure() -> str:
    """Create the configured first admin if no user holds `admin`, and commit.

    Returns "off" (not configured), "exists" (an admin exists: nothing done) or
    "created". Raises BootstrapError, naming the setting, when it cannot be done.
    """
    config = current_app.config
    email = str(config["AUTHAPI_BOOTSTRAP_ADMIN_EMAIL"])
    if not email:
        return "off"
    # A write to the admin role's row serialises two migration jobs racing here.
    db.affected(update(Role).where(Role.name == ADMIN_ROLE).values(name=Role.name))
    if admins():
        db.orm().rollback()
        return "exists"
    if users.by_email(email) is not None:
        db.orm().rollback()
        raise BootstrapError(
            "AUTHAPI_BOOTSTRAP_ADMIN_EMAIL names an existing account that is not an admin; "
            "it is not promoted (give it the role with `authapi users roles`, or name "
            "another address)")
    password = read_password(str(config["AUTHAPI_BOOTSTRAP_ADMIN_PASSWORD_FILE"]))
    accounts.create(email, password, roles=(ADMIN_ROLE,))
    db.orm().commit()
    return "created"
