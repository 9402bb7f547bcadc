"""Device authorizations (RFC 8628).

Reviewed by hand: timestamps are naive UTC, as in 0001.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04 20:30:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "device_grants",
        sa.Column("device_code_hash", sa.String(length=64), nullable=False),
        sa.Column("user_code", sa.String(length=8), nullable=False),
        sa.Column("client_id", sa.String(length=2048), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("resources", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("interval", sa.BigInteger(), nullable=False),
        sa.Column("last_polled_at", sa.DateTime(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=True),
        sa.Column("granted_scope", sa.Text(), nullable=True),
        sa.Column("auth_time", sa.BigInteger(), nullable=True),
        sa.Column("acr", sa.String(length=8), nullable=True),
        sa.Column("amr", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("device_code_hash"),
        sa.UniqueConstraint("user_code"),
    )
    with op.batch_alter_table("device_grants", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_device_grants_expires_at"), ["expires_at"])


def downgrade() -> None:
    with op.batch_alter_table("device_grants", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_device_grants_expires_at"))
    op.drop_table("device_grants")
