"""API tokens, outgoing webhooks, welcome emails (issue 22)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 08:30:00

"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import newsletter.store.tables

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _time(name: str, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, newsletter.store.tables.UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "welcome_emails",
        sa.Column("subscriber_id", Id, autoincrement=False, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        _time("created_at", False),
        _time("claimed_at"),
        _time("sent_at"),
        sa.Column("error", sa.Text(), server_default="", nullable=False),
        sa.PrimaryKeyConstraint("subscriber_id", name=op.f("pk_welcome_emails")),
    )
    op.create_index("ix_welcome_emails_status", "welcome_emails", ["status"], unique=False)
    op.create_table(
        "api_tokens",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("scope", sa.String(length=8), nullable=False),
        _time("created_at", False),
        _time("last_used_at"),
        _time("revoked_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("name", name=op.f("uq_api_tokens_name")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )
    op.create_table(
        "webhook_endpoints",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("events", sa.String(length=400), nullable=False),
        sa.Column("secret", sa.String(length=100), nullable=False),
        _time("created_at", False),
        _time("disabled_at"),
        sa.Column("disabled_reason", sa.Text(), server_default="", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_endpoints")),
    )
    op.create_table(
        "webhook_messages",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("endpoint_id", Id, nullable=False),
        sa.Column("message_id", sa.String(length=40), nullable=False),
        sa.Column("event_type", sa.String(length=40), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        _time("created_at", False),
        _time("next_attempt_at", False),
        _time("claimed_until"),
        _time("delivered_at"),
        sa.Column("last_error", sa.Text(), server_default="", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_messages")),
    )
    op.create_index("ix_webhook_messages_status_next_attempt_at", "webhook_messages",
                    ["status", "next_attempt_at"], unique=False)
    op.create_index("uq_webhook_messages_endpoint_id_message_id", "webhook_messages",
                    ["endpoint_id", "message_id"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_webhook_messages_endpoint_id_message_id", table_name="webhook_messages")
    op.drop_index("ix_webhook_messages_status_next_attempt_at", table_name="webhook_messages")
    op.drop_table("webhook_messages")
    op.drop_table("webhook_endpoints")
    op.drop_table("api_tokens")
    op.drop_index("ix_welcome_emails_status", table_name="welcome_emails")
    op.drop_table("welcome_emails")
