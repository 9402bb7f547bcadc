"""What a fresh database needs before the first request: built-in roles and a signing key."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session as OrmSession

from authapi.models import ADMIN_ROLE, DEFAULT_ROLE, Role, SigningKey
from authapi.tokens import keys

# admin holds every permission implicitly (models.Role.scope); user holds none.
BUILTIN_ROLES: dict[str, list[str]] = {ADMIN_ROLE: [], DEFAULT_ROLE: []}


def ensure_roles(db_session: OrmSession) -> None:
    """Create the built-in roles if missing."""
    existing = set(db_session.scalars(select(Role.name).where(Role.name.in_(BUILTIN_ROLES))))
    for name, permissions in BUILTIN_ROLES.items():
        if name not in existing:
            db_session.add(Role(name=name, permissions=permissions))
    db_session.flush()


def ensure_signing_key(app: Flask, db_session: OrmSession) -> None:
    """Generate and store a signing key for the configured algorithm if there is none."""
    algorithm = app.config["AUTHAPI_JWT_ALGORITHM"]
    if algorithm == "HS256":
        return
    active = db_session.scalar(select(SigningKey.kid).where(
        SigningKey.algorithm == algorithm, SigningKey.retired_at.is_(None)))
    if active is None:
        keys.create(db_session, algorithm, app.config["AUTHAPI_SECRET_KEY"])


def run(app: Flask) -> None:
    """Seed a migrated database; safe to run on every start."""
    with app.app_context(), app.extensions["authapi.sessionmaker"]() as db_session:
        ensure_roles(db_session)
        ensure_signing_key(app, db_session)
        db_session.commit()
