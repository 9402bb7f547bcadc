"""Reset requests: a password reset is recorded in the request and decided after commit.

Reviewed by hand: timestamps are naive UTC (authapi.models.UTCDateTime), as in 0001.
Nothing moves: links and mail queued before the upgrade stay where they are.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 11:20:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "reset_requests",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True,
                  nullable=False),
        sa.Column("email", sa.Text(), nullable=False),
        sa.Column("ip", sa.String(length=45), nullable=True),
        sa.Column("user_agent", sa.String(length=512), nullable=True),
        sa.Column("requested_at", sa.DateTime(), nullable=False),
        sa.Column("handled_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reset_requests")),
    )
    with op.batch_alter_table("reset_requests", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_reset_requests_handled_at"), ["handled_at"],
                              unique=False)


def downgrade() -> None:
    # Pending requests are dropped with the table: they were answered 202 and never mailed.
    with op.batch_alter_table("reset_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reset_requests_handled_at"))
    op.drop_table("reset_requests")
