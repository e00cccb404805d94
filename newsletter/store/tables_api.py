"""Welcome emails, API tokens and outgoing webhooks (issue 22).

On the ``metadata`` of ``tables.py``, which imports this module.
"""

from __future__ import annotations

from sqlalchemy import Column, Index, Integer, String, Table, Text

from newsletter.store.tables import Id, UTCDateTime, metadata

# -- issue 22: welcome emails, API tokens, outgoing webhooks -------------------------------

# One welcome email per reader, ever: the row is written in the transaction that confirms
# them and sent afterwards (by the web app at once, or by `newsletter worker`).
# queued -> sending -> sent; "skipped" when the reader left before it went out.
welcome_emails = Table(
    "welcome_emails",
    metadata,
    Column("subscriber_id", Id, primary_key=True, autoincrement=False),
    Column("status", String(16), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("claimed_at", UTCDateTime()),
    Column("sent_at", UTCDateTime()),
    Column("error", Text(), nullable=False, server_default=""),
    Index("ix_welcome_emails_status", "status"),
)

# REST API bearer tokens: the sha256 of the token, never the token. read or write.
api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("scope", String(8), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("last_used_at", UTCDateTime()),
    Column("revoked_at", UTCDateTime()),
)

# Operators' webhook endpoints. The secret signs (Standard Webhooks), so it is kept as is.
webhook_endpoints = Table(
    "webhook_endpoints",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("url", Text(), nullable=False),
    # Comma-separated event types.
    Column("events", String(400), nullable=False),
    Column("secret", String(100), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("disabled_at", UTCDateTime()),
    Column("disabled_reason", Text(), nullable=False, server_default=""),
)

# The outbox: one row per event and endpoint, written in the transaction of the change it
# tells of. pending -> delivered, or failed after 24 hours of retries.
webhook_messages = Table(
    "webhook_messages",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("endpoint_id", Id, nullable=False),
    # The Standard Webhooks message id (msg_...): the same on every attempt.
    Column("message_id", String(40), nullable=False),
    Column("event_type", String(40), nullable=False),
    Column("payload", Text(), nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer(), nullable=False, server_default="0"),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("next_attempt_at", UTCDateTime(), nullable=False),
    # A worker delivering it holds it until then; after a crash another takes it over.
    Column("claimed_until", UTCDateTime()),
    Column("delivered_at", UTCDateTime()),
    Column("last_error", Text(), nullable=False, server_default=""),
    Index("ix_webhook_messages_status_next_attempt_at", "status", "next_attempt_at"),
    Index("uq_webhook_messages_endpoint_id_message_id", "endpoint_id", "message_id",
          unique=True),
)
