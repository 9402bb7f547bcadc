"""Client audiences: the services a client may exchange user tokens for (RFC 8693).

Reviewed by hand. Existing clients get none: their exchanges may name only the
configured audience, as the contract now says.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 17:40:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("clients", schema=None) as batch_op:
        batch_op.add_column(sa.Column("audiences", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("clients", schema=None) as batch_op:
        batch_op.drop_column("audiences")
