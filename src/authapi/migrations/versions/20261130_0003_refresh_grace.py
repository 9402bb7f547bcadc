"""Refresh grace window: the last rotation of each session, its successor encrypted.

Reviewed by hand: one row per session (its primary key is the session's id, deleted
with it); `successor` holds a Fernet ciphertext, never a usable token.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 08:45:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('refresh_grace',
    sa.Column('session_id', sa.String(length=36), nullable=False),
    sa.Column('previous_jti', sa.String(length=64), nullable=False),
    sa.Column('successor_jti', sa.String(length=64), nullable=False),
    sa.Column('rotated_at', sa.DateTime(), nullable=False),
    sa.Column('successor', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['session_id'], ['sessions.id'],
                            name=op.f('fk_refresh_grace_session_id_sessions'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('session_id', name=op.f('pk_refresh_grace'))
    )


def downgrade() -> None:
    op.drop_table('refresh_grace')
