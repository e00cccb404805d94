"""choices waiting for confirmation

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 04:00:00

``subscribers.pending_categories`` / ``pending_language``: the choices of the latest
sign-up that was mailed a confirmation link. They replace the reader's stored choices only
when that link is confirmed, so a stranger signing someone's address up cannot rewrite a
pending or unsubscribed reader's categories and language. NULL when nothing is waiting.

"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("subscribers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pending_categories", sa.String(length=200)))
        batch_op.add_column(sa.Column("pending_language", sa.String(length=4)))


def downgrade() -> None:
    with op.batch_alter_table("subscribers", schema=None) as batch_op:
        batch_op.drop_column("pending_language")
        batch_op.drop_column("pending_categories")
