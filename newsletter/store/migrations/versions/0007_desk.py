"""the desk: sign-in links, sessions, the audit log, scheduled sends, per-variant counts

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 06:30:00

"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import newsletter.store.tables

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "desk_links",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("created_at", newsletter.store.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", newsletter.store.tables.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_desk_links")),
    )
    op.create_table(
        "desk_sessions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("created_at", newsletter.store.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", newsletter.store.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", newsletter.store.tables.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_desk_sessions")),
    )
    op.create_index(op.f("ix_desk_sessions_email"), "desk_sessions", ["email"], unique=False)
    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("at", newsletter.store.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=320), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("target", sa.String(length=320), server_default="", nullable=False),
        sa.Column("detail", sa.Text(), server_default="", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_table(
        "schedules",
        sa.Column("issue_date", sa.String(length=10), nullable=False),
        sa.Column("issue_path", sa.Text(), nullable=False),
        sa.Column("send_at", newsletter.store.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=320), nullable=False),
        sa.Column("created_at", newsletter.store.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column("started_at", newsletter.store.tables.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("issue_date", name=op.f("pk_schedules")),
    )
    op.create_index(op.f("ix_schedules_send_at"), "schedules", ["send_at"], unique=False)
    op.create_index("ix_deliveries_campaign_status_variant", "deliveries",
                    ["campaign_id", "status", "variant"], unique=False)
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        # pg_trgm is a trusted extension (PostgreSQL 13+): the database's owner may add it.
        # It goes in `public` when it is new (not in whatever schema comes first in this
        # session's search path, which may be dropped with its tables), under a lock so that
        # two upgrades at once do not both create it; the index names its operator class
        # with the schema it is really in.
        bind.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext('newsletter pg_trgm'))"))
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public")
        schema = bind.execute(sa.text(
            "SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'pg_trgm'"
        )).scalar_one()
        op.execute(f"CREATE INDEX ix_subscribers_email_trgm ON subscribers "
                   f"USING gin (email {schema}.gin_trgm_ops)")


def downgrade() -> None:
    op.drop_index("ix_deliveries_campaign_status_variant", table_name="deliveries")
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_subscribers_email_trgm", table_name="subscribers")
    op.drop_index(op.f("ix_schedules_send_at"), table_name="schedules")
    op.drop_table("schedules")
    op.drop_table("audit_log")
    op.drop_index(op.f("ix_desk_sessions_email"), table_name="desk_sessions")
    op.drop_table("desk_sessions")
    op.drop_table("desk_links")
