"""issue 17 events apply: three ``ses_events`` indexes partial

An event rolled into its delivery's state (Send, Delivery, Open, Click: most events) keeps
no SES message id (NULL) and no address (''), and one that came by raw SQS delivery has no
SNS message id (NULL); their index entries were never read (no query looks for a NULL or
an empty address) but cost each inserted row three of its seven index insertions. The
indexes of the SNS message id (replays), the SES message id and (address, kind) (the
soft-bounce count) now hold only rows that have the value; the predicates are
``tables.HAS_SNS_ID``, ``HAS_SES_ID`` and ``HAS_EMAIL``.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 14:30:00

"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

# (name, columns, predicate), as tables.py declares them (its constants, copied: a
# migration keeps the schema of its own revision whatever tables.py says later).
INDEXES = (
    ("ix_ses_events_email_kind", ["email", "kind"], "email <> ''"),
    ("ix_ses_events_sns_message_id", ["sns_message_id"], "sns_message_id IS NOT NULL"),
    ("ix_ses_events_ses_message_id", ["ses_message_id"], "ses_message_id IS NOT NULL"),
)


def upgrade() -> None:
    for name, columns, predicate in INDEXES:
        op.drop_index(name, table_name="ses_events")
        op.create_index(name, "ses_events", columns, postgresql_where=sa.text(predicate),
                        sqlite_where=sa.text(predicate))


def downgrade() -> None:
    for name, columns, _ in INDEXES:
        op.drop_index(name, table_name="ses_events")
        op.create_index(name, "ses_events", columns)
