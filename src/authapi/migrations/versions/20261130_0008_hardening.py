"""Hardening: shared rate-limit counters, login back-off, emails normalised (NFKC + casefold).

The data step rewrites every stored email into the one form authapi compares
(`users.normalize_email`). Two rows that become the same email are NOT merged and
neither is changed: the migration stops with an error that lists them, so an
operator decides (rename one, or delete a duplicate) and runs it again.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 08:45:00
"""
import unicodedata
from collections import defaultdict
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


class EmailCollision(RuntimeError):
    """Stored emails that are one address once normalised."""


def normalize_email(email: str) -> str:
    """A copy of users.normalize_email as of this revision (migrations never import the app)."""
    return unicodedata.normalize("NFKC", email).strip().casefold()


def normalize_emails() -> None:
    """Rewrite emails into their normalised form; refuse, listing them, on any collision."""
    bind = op.get_bind()
    users = sa.table("users", sa.column("id", sa.String), sa.column("email", sa.String))
    rows = bind.execute(sa.select(users.c.id, users.c.email)).all()
    groups: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for user_id, email in rows:
        groups[normalize_email(email)].append((user_id, email))
    collisions = {key: found for key, found in groups.items() if len(found) > 1}
    if collisions:
        lines = [f"  {key}: " + ", ".join(f"{email!r} (id {user_id})" for user_id, email in found)
                 for key, found in sorted(collisions.items())]
        raise EmailCollision("these accounts have the same email once normalised; resolve "
                             "them by hand and upgrade again:\n" + "\n".join(lines))
    for key, [(user_id, email)] in groups.items():
        if key != email:
            bind.execute(users.update().where(users.c.id == user_id).values(email=key))


def upgrade() -> None:
    op.create_table(
        "rate_limits",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_rate_limits")),
    )
    with op.batch_alter_table("rate_limits", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_rate_limits_expires_at"), ["expires_at"],
                              unique=False)
    op.create_table(
        "login_failures",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("first_at", sa.Float(), nullable=False),
        sa.Column("last_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_login_failures")),
    )
    with op.batch_alter_table("login_failures", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_login_failures_last_at"), ["last_at"],
                              unique=False)
    normalize_emails()


def downgrade() -> None:
    # Normalised emails stay normalised: the old forms are not kept, and are not needed.
    with op.batch_alter_table("login_failures", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_login_failures_last_at"))
    op.drop_table("login_failures")
    with op.batch_alter_table("rate_limits", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rate_limits_expires_at"))
    op.drop_table("rate_limits")
