"""The provider's state: authorization requests (and their codes), consents, and the
app sessions they open (sessions.client_id, scope, audience, sign_in_id).

Reviewed by hand: timestamps are naive UTC, as in 0001.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04 20:10:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "oauth_requests",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("binding", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=2048), nullable=False),
        sa.Column("redirect_uri", sa.Text(), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("state", sa.Text(), nullable=True),
        sa.Column("nonce", sa.Text(), nullable=True),
        sa.Column("code_challenge", sa.String(length=128), nullable=False),
        sa.Column("resources", sa.JSON(), nullable=True),
        sa.Column("prompt", sa.String(length=64), nullable=True),
        sa.Column("max_age", sa.BigInteger(), nullable=True),
        sa.Column("acr_values", sa.String(length=64), nullable=True),
        sa.Column("login_hint", sa.String(length=320), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=True),
        sa.Column("sign_in_id", sa.String(length=36), nullable=True),
        sa.Column("granted_scope", sa.Text(), nullable=True),
        sa.Column("code_hash", sa.String(length=64), nullable=True),
        sa.Column("code_expires_at", sa.DateTime(), nullable=True),
        sa.Column("code_used_at", sa.DateTime(), nullable=True),
        sa.Column("issued_session_id", sa.String(length=36), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code_hash"),
    )
    with op.batch_alter_table("oauth_requests", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_oauth_requests_client_id"), ["client_id"])
        batch_op.create_index(batch_op.f("ix_oauth_requests_expires_at"), ["expires_at"])
    op.create_table(
        "consents",
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("client_id", sa.String(length=2048), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("granted_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id", "client_id"),
    )
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("client_id", sa.String(length=2048), nullable=True))
        batch_op.add_column(sa.Column("scope", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("audience", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("sign_in_id", sa.String(length=36), nullable=True))
        batch_op.create_index(batch_op.f("ix_sessions_client_id"), ["client_id"])
        batch_op.create_index(batch_op.f("ix_sessions_sign_in_id"), ["sign_in_id"])


def downgrade() -> None:
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sessions_sign_in_id"))
        batch_op.drop_index(batch_op.f("ix_sessions_client_id"))
        batch_op.drop_column("sign_in_id")
        batch_op.drop_column("audience")
        batch_op.drop_column("scope")
        batch_op.drop_column("client_id")
    op.drop_table("consents")
    with op.batch_alter_table("oauth_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_oauth_requests_expires_at"))
        batch_op.drop_index(batch_op.f("ix_oauth_requests_client_id"))
    op.drop_table("oauth_requests")
