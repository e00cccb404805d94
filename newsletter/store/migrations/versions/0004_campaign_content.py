"""campaign content fingerprint

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 13:00:00

``campaigns.content_sha256``: a fingerprint of the issue's validated content when the
campaign was started, so that resuming after the issue file was edited is noticed instead
of silently sending part of the list a different newsletter. Empty for older campaigns.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("content_sha256", sa.String(length=64), nullable=False, server_default="")
        )


def downgrade() -> None:
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_column("content_sha256")
