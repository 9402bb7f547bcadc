"""The session a device approval came from (RFC 8628): when it ends, the approval is
void, as an authorization code is when the sign-in behind it ends.

Reviewed by hand. Approvals in flight (ten minutes at most) have NULL and keep working.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05 18:20:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("device_grants", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sign_in_id", sa.String(length=36), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("device_grants", schema=None) as batch_op:
        batch_op.drop_column("sign_in_id")
