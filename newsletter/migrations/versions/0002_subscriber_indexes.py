"""subscriber store indexes

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 10:00:00

Suppressions are looked up by plain address while the subscriber exists (``suppressions
list``, erasure), and recipients are streamed per status in id order, so the status index
gains the id column: PostgreSQL can then read them in order without sorting a million rows.
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("suppressions", schema=None) as batch_op:
        batch_op.create_index("ix_suppressions_email", ["email"], unique=False)
    with op.batch_alter_table("subscribers", schema=None) as batch_op:
        batch_op.drop_index("ix_subscribers_status")
        batch_op.create_index("ix_subscribers_status_id", ["status", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("subscribers", schema=None) as batch_op:
        batch_op.drop_index("ix_subscribers_status_id")
        batch_op.create_index("ix_subscribers_status", ["status"], unique=False)
    with op.batch_alter_table("suppressions", schema=None) as batch_op:
        batch_op.drop_index("ix_suppressions_email")
