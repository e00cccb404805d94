"""each reader's own newsletter: frequency, max papers, follows, per-paper feedback (issue 21)

Revision ID: 0013
Revises: 0011
Create Date: 2026-12-06 08:30:00

"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import newsletter.store.tables

revision = "0013"
down_revision = "0011"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "reader_preferences",
        sa.Column("subscriber_id", _ID, nullable=False),
        sa.Column("frequency", sa.String(length=8), nullable=False),
        sa.Column("weekday", sa.Integer(), nullable=True),
        sa.Column("paused_until", sa.String(length=10), nullable=True),
        sa.Column("max_papers", sa.Integer(), nullable=True),
        sa.Column("follows", sa.Text(), server_default="", nullable=False),
        sa.Column("updated_at", newsletter.store.tables.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["subscriber_id"], ["subscribers.id"],
            name=op.f("fk_reader_preferences_subscriber_id_subscribers"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("subscriber_id", name=op.f("pk_reader_preferences")),
    )
    op.create_table(
        "paper_feedback",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("campaign_id", _ID, nullable=False),
        sa.Column("subscriber_id", _ID, nullable=False),
        sa.Column("arxiv_id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("created_at", newsletter.store.tables.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"],
            name=op.f("fk_paper_feedback_campaign_id_campaigns"),
        ),
        sa.ForeignKeyConstraint(
            ["subscriber_id"], ["subscribers.id"],
            name=op.f("fk_paper_feedback_subscriber_id_subscribers"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_paper_feedback")),
    )
    op.create_index("uq_paper_feedback_campaign_subscriber_paper", "paper_feedback",
                    ["campaign_id", "subscriber_id", "arxiv_id"], unique=True)
    op.create_index("ix_paper_feedback_campaign_id_arxiv_id", "paper_feedback",
                    ["campaign_id", "arxiv_id"], unique=False)
    op.create_index("ix_paper_feedback_subscriber_id", "paper_feedback",
                    ["subscriber_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_paper_feedback_subscriber_id", table_name="paper_feedback")
    op.drop_index("ix_paper_feedback_campaign_id_arxiv_id", table_name="paper_feedback")
    op.drop_index("uq_paper_feedback_campaign_subscriber_paper", table_name="paper_feedback")
    op.drop_table("paper_feedback")
    op.drop_table("reader_preferences")
