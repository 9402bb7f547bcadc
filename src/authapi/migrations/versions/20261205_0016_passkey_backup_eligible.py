"""A passkey's backup eligibility (WebAuthn Level 3 §6.1: the BE flag), kept from its
registration so a sign-in whose flag differs is refused (§7.2 step 19).

Reviewed by hand. Passkeys registered before have NULL: their next sign-in records it.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05 17:40:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("passkeys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("backup_eligible", sa.Boolean(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("passkeys", schema=None) as batch_op:
        batch_op.drop_column("backup_eligible")
