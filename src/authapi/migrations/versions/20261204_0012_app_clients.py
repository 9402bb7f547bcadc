"""Clients that sign users in (OAuth 2.1 / OpenID Connect provider): redirect URIs,
post-logout redirect URIs, grant types, the token endpoint auth method, first party,
resources (RFC 8707), require_par, require_dpop.

Reviewed by hand. Existing clients keep NULL lists and false flags: they are services,
read as client_credentials (plus token exchange where `exchange` is set) with the auth
method their secret or keys imply.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 20:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LISTS = ("redirect_uris", "post_logout_redirect_uris", "grant_types", "resources")
FLAGS = ("first_party", "require_par", "require_dpop")


def upgrade() -> None:
    with op.batch_alter_table("clients", schema=None) as batch_op:
        for name in LISTS:
            batch_op.add_column(sa.Column(name, sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("token_endpoint_auth_method", sa.String(length=32),
                                      nullable=True))
        for name in FLAGS:
            batch_op.add_column(sa.Column(name, sa.Boolean(), nullable=False,
                                          server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("clients", schema=None) as batch_op:
        for name in (*FLAGS, "token_endpoint_auth_method", *reversed(LISTS)):
            batch_op.drop_column(name)
