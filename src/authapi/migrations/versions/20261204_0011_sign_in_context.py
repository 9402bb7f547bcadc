"""Sign-in context: when and how the user last proved who they are in a session
(auth_time, acr, amr), and when TOTP was turned on (naive UTC, as in 0001).

Reviewed by hand. Existing sessions get no sign-in context: their access tokens carry
none until the user signs in or re-authenticates, so a sensitive change asks for a
fresh sign-in, which is the safe reading of "unknown".

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 19:30:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("auth_time", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("acr", sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column("amr", sa.String(length=64), nullable=True))
    with op.batch_alter_table("mfa_totp", schema=None) as batch_op:
        batch_op.add_column(sa.Column("enabled_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("mfa_totp", schema=None) as batch_op:
        batch_op.drop_column("enabled_at")
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.drop_column("amr")
        batch_op.drop_column("acr")
        batch_op.drop_column("auth_time")
