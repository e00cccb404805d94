"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-24 00:21:17.291305
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import newsletter.store.tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "campaigns",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("issue_date", sa.String(length=10), nullable=False),
        sa.Column("issue_path", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("paused_reason", sa.Text(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("created_at", newsletter.store.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", newsletter.store.tables.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaigns")),
        sa.UniqueConstraint("issue_date", name=op.f("uq_campaigns_issue_date")),
    )
    op.create_table(
        "subscribers",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("categories", sa.String(length=200), nullable=False),
        sa.Column("language", sa.String(length=4), nullable=False),
        sa.Column("source", sa.String(length=8), nullable=False),
        sa.Column("created_at", newsletter.store.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", newsletter.store.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "confirmed_at", newsletter.store.tables.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column(
            "confirmation_sent_at",
            newsletter.store.tables.UTCDateTime(timezone=True),
            nullable=True,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscribers")),
        sa.UniqueConstraint("email", name=op.f("uq_subscribers_email")),
    )
    with op.batch_alter_table("subscribers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_subscribers_status"), ["status"], unique=False)

    op.create_table(
        "suppressions",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("email_hash", sa.String(length=64), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("created_at", newsletter.store.tables.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_suppressions")),
        sa.UniqueConstraint("email_hash", name=op.f("uq_suppressions_email_hash")),
    )
    op.create_table(
        "deliveries",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "campaign_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "subscriber_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("variant", sa.String(length=220), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        sa.Column("claimed_at", newsletter.store.tables.UTCDateTime(timezone=True), nullable=True),
        sa.Column("sent_at", newsletter.store.tables.UTCDateTime(timezone=True), nullable=True),
        sa.Column("provider_id", sa.String(length=200), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name=op.f("fk_deliveries_campaign_id_campaigns")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deliveries")),
    )
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_deliveries_campaign_status_id", ["campaign_id", "status", "id"], unique=False
        )
        batch_op.create_index(
            "uq_deliveries_campaign_subscriber", ["campaign_id", "subscriber_id"], unique=True
        )

    op.create_table(
        "subscriber_events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "subscriber_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("old_status", sa.String(length=16), nullable=True),
        sa.Column("new_status", sa.String(length=16), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", newsletter.store.tables.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscribers.id"],
            name=op.f("fk_subscriber_events_subscriber_id_subscribers"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscriber_events")),
    )
    with op.batch_alter_table("subscriber_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_subscriber_events_subscriber_id"), ["subscriber_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("subscriber_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_subscriber_events_subscriber_id"))

    op.drop_table("subscriber_events")
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index("uq_deliveries_campaign_subscriber")
        batch_op.drop_index("ix_deliveries_campaign_status_id")

    op.drop_table("deliveries")
    op.drop_table("suppressions")
    with op.batch_alter_table("subscribers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_subscribers_status"))

    op.drop_table("subscribers")
    op.drop_table("campaigns")
