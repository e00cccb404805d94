"""SES events

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 04:00:00

``ses_events``: every SES event received (webhook or SQS), once, with the delivery it is
about; ``deliveries.provider_id`` gets an index so that events are matched by SES's
message id when they carry neither our tag nor our header.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
When = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "ses_events",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("event_key", sa.String(64), nullable=False),
        sa.Column("sns_message_id", sa.String(100)),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("ses_message_id", sa.String(200)),
        sa.Column("delivery_id", Id),
        sa.Column("campaign_id", Id),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("bounce_type", sa.String(16), nullable=False),
        sa.Column("machine", sa.Integer(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("occurred_at", When),
        sa.Column("received_at", When, nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_ses_events"),
        sa.UniqueConstraint("event_key", name="uq_ses_events_event_key"),
    )
    op.create_index("ix_ses_events_sns_message_id", "ses_events", ["sns_message_id"])
    op.create_index("ix_ses_events_ses_message_id", "ses_events", ["ses_message_id"])
    op.create_index("ix_ses_events_delivery_id", "ses_events", ["delivery_id"])
    op.create_index("ix_ses_events_campaign_id_kind", "ses_events", ["campaign_id", "kind"])
    op.create_index("ix_ses_events_email_kind", "ses_events", ["email", "kind"])
    op.create_index("ix_deliveries_provider_id", "deliveries", ["provider_id"])


def downgrade() -> None:
    op.drop_index("ix_deliveries_provider_id", table_name="deliveries")
    op.drop_table("ses_events")
