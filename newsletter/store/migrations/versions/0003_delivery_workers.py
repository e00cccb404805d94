"""delivery workers and deferred deliveries

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 12:00:00

``workers``: every process that sends (``newsletter send`` or ``newsletter worker``) has a
row with a heartbeat. A delivery left in ``sending`` by a worker whose heartbeat stopped
(or, on the same host, whose process is gone) is in doubt; live busy workers split the
account's send rate between them.

``deliveries.not_before``: a delivery whose transient failures outlasted its retries goes
back to ``queued`` and is not claimed again before this time.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import newsletter.store.tables

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "workers",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column(
            "campaign_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("started_at", newsletter.store.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "heartbeat_at", newsletter.store.tables.UTCDateTime(timezone=True), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workers")),
    )
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "not_before", newsletter.store.tables.UTCDateTime(timezone=True), nullable=True
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_column("not_before")
    op.drop_table("workers")
