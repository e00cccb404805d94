"""what readers did: per-campaign and per-link counters, rolled-up events (issue 17)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 08:30:00

"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import newsletter.store.tables

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _when(name: str, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, newsletter.store.tables.UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "delivery_activity",
        sa.Column("delivery_id", Id, autoincrement=False, nullable=False),
        sa.Column("campaign_id", Id, nullable=False),
        _when("delivered_at"),
        sa.Column("bounced", sa.Integer(), nullable=False),
        sa.Column("complained", sa.Integer(), nullable=False),
        _when("opened_at"),
        _when("machine_opened_at"),
        sa.Column("opens", sa.Integer(), nullable=False),
        _when("clicked_at"),
        sa.Column("clicks", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("delivery_id", name=op.f("pk_delivery_activity")),
    )
    counters = ["delivered", "bounced", "complained", "opened_unique", "opened_machine",
                "clicked_unique", "opens_total", "clicks_total"]
    op.create_table(
        "campaign_counts",
        sa.Column("campaign_id", Id, autoincrement=False, nullable=False),
        sa.Column("variant", sa.String(length=220), nullable=False),
        *[sa.Column(name, sa.BigInteger(), nullable=False) for name in counters],
        sa.PrimaryKeyConstraint("campaign_id", "variant", name=op.f("pk_campaign_counts")),
    )
    op.create_table(
        "campaign_links",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("campaign_id", Id, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("clicks", sa.BigInteger(), nullable=False),
        sa.Column("readers", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign_links")),
    )
    op.create_index("uq_campaign_links_campaign_id_key", "campaign_links",
                    ["campaign_id", "key"], unique=True)
    op.create_table(
        "delivery_links",
        sa.Column("delivery_id", Id, autoincrement=False, nullable=False),
        sa.Column("link_id", Id, autoincrement=False, nullable=False),
        sa.Column("clicks", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("delivery_id", "link_id", name=op.f("pk_delivery_links")),
    )
    op.create_table(
        "reader_actions",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("campaign_id", Id, nullable=True),
        sa.Column("delivery_id", Id, nullable=True),
        sa.Column("subscriber_id", Id, nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        _when("at", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reader_actions")),
    )
    op.create_index("ix_reader_actions_campaign_id_action", "reader_actions",
                    ["campaign_id", "action"], unique=False)
    op.create_index("ix_reader_actions_subscriber_id", "reader_actions", ["subscriber_id"],
                    unique=False)
    op.create_table(
        "reengagements",
        sa.Column("subscriber_id", Id, autoincrement=False, nullable=False),
        _when("asked_at", nullable=False),
        _when("kept_at"),
        sa.PrimaryKeyConstraint("subscriber_id", name=op.f("pk_reengagements")),
    )
    op.create_index("ix_subscriber_events_created_at", "subscriber_events", ["created_at"],
                    unique=False)
    op.create_table(
        "trend_days",
        sa.Column("day", sa.String(length=10), nullable=False),
        *[sa.Column(name, sa.Integer(), nullable=False) for name in (
            "signups", "confirmations", "added", "left_reader", "left_bounce",
            "left_complaint", "left_inactive")],
        sa.PrimaryKeyConstraint("day", name=op.f("pk_trend_days")),
    )


def downgrade() -> None:
    op.drop_table("trend_days")
    op.drop_index("ix_subscriber_events_created_at", table_name="subscriber_events")
    op.drop_table("reengagements")
    op.drop_index("ix_reader_actions_subscriber_id", table_name="reader_actions")
    op.drop_index("ix_reader_actions_campaign_id_action", table_name="reader_actions")
    op.drop_table("reader_actions")
    op.drop_table("delivery_links")
    op.drop_index("uq_campaign_links_campaign_id_key", table_name="campaign_links")
    op.drop_table("campaign_links")
    op.drop_table("campaign_counts")
    op.drop_table("delivery_activity")
