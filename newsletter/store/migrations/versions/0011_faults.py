"""exactly once under faults: feed heartbeat, dead letters, campaign thresholds, durable sign-up queue (issue 25)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 08:30:00

"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import newsletter.store.tables

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dead_letters",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True,
                  nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("received_at", newsletter.store.tables.UTCDateTime(timezone=True),
                  nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dead_letters")),
    )
    op.create_index(op.f("ix_dead_letters_received_at"), "dead_letters", ["received_at"],
                    unique=False)


    op.create_table(
        "event_feeds",
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("covers_from", newsletter.store.tables.UTCDateTime(timezone=True),
                  nullable=True),
        sa.Column("current_to", newsletter.store.tables.UTCDateTime(timezone=True),
                  nullable=True),
        sa.Column("heartbeat_at", newsletter.store.tables.UTCDateTime(timezone=True),
                  nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_event_feeds")),
    )


    op.create_table(
        "signup_queue",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True,
                  nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("categories", sa.String(length=200), nullable=False),
        sa.Column("language", sa.String(length=4), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("created_at", newsletter.store.tables.UTCDateTime(timezone=True),
                  nullable=False),
        sa.Column("taken_until", newsletter.store.tables.UTCDateTime(timezone=True),
                  nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signup_queue")),
    )
    op.create_index(op.f("ix_signup_queue_source"), "signup_queue", ["source"], unique=False)
    op.add_column("campaigns", sa.Column("max_bounce_rate", sa.Float(), nullable=True))
    op.add_column("campaigns", sa.Column("max_complaint_rate", sa.Float(), nullable=True))
    op.add_column("deliveries",
                  sa.Column("resends", sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    op.drop_index(op.f("ix_signup_queue_source"), table_name="signup_queue")
    op.drop_table("signup_queue")
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_column("resends")
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_column("max_complaint_rate")
        batch.drop_column("max_bounce_rate")
    op.drop_table("event_feeds")
    op.drop_index(op.f("ix_dead_letters_received_at"), table_name="dead_letters")
    op.drop_table("dead_letters")
