"""Whether an authorization request named its redirect URI (RFC 6749 §4.1.3).

Reviewed by hand. Requests in flight (ten minutes at most) count as having named it:
their token requests must send it, as before.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05 15:30:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("oauth_requests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("redirect_uri_sent", sa.Boolean(), nullable=False,
                                      server_default=sa.true()))


def downgrade() -> None:
    with op.batch_alter_table("oauth_requests", schema=None) as batch_op:
        batch_op.drop_column("redirect_uri_sent")
