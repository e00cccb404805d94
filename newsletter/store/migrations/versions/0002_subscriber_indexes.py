"""subscriber store indexes

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 10:00:00

Suppressions are looked up by plain address while the subscriber exists (``suppressions
list``, erasure), and recipients are streamed per status in id order, so the status index
gains the id column: PostgreSQL can then read them in order without sorting a million rows.

On SQLite the subscribers table is rebuilt with AUTOINCREMENT. Without it SQLite hands the
id of an erased subscriber (when it was the highest) to the next one, and links signed for
the erased subscriber's id would then act on a stranger. PostgreSQL never reuses ids.
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
    if op.get_context().dialect.name == "sqlite":
        _rebuild_sqlite_subscribers(autoincrement=True)


def _rebuild_sqlite_subscribers(*, autoincrement: bool) -> None:
    # Dropping the old table during the rebuild would otherwise run the ON DELETE SET NULL
    # of subscriber_events and detach every event from its subscriber.
    op.execute("PRAGMA foreign_keys=OFF")
    with op.batch_alter_table(
        "subscribers",
        recreate="always",
        table_kwargs={"sqlite_autoincrement": autoincrement},
    ):
        pass
    op.execute("PRAGMA foreign_keys=ON")


def downgrade() -> None:
    if op.get_context().dialect.name == "sqlite":
        _rebuild_sqlite_subscribers(autoincrement=False)
    with op.batch_alter_table("subscribers", schema=None) as batch_op:
        batch_op.drop_index("ix_subscribers_status_id")
        batch_op.create_index("ix_subscribers_status", ["status"], unique=False)
    with op.batch_alter_table("suppressions", schema=None) as batch_op:
        batch_op.drop_index("ix_suppressions_email")
