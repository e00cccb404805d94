"""Table definitions. Migrations in ``newsletter/migrations`` create and change them."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
)
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.engine import Dialect

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# SQLite's INTEGER PRIMARY KEY must be INTEGER to autoincrement; PostgreSQL gets BIGINT.
Id = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; pass an aware UTC datetime")
        return value.astimezone(dt.UTC)

    def process_result_value(
        self, value: dt.datetime | None, dialect: Dialect
    ) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


subscribers = Table(
    "subscribers",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    # Normalised by email-validator; the ASCII (punycode) form is what messages use.
    Column("email", String(320), nullable=False, unique=True),
    # pending, active, unsubscribed, bounced, complained
    Column("status", String(16), nullable=False),
    # Comma-separated category codes; empty means every category.
    Column("categories", String(200), nullable=False, default=""),
    # zh, en or both
    Column("language", String(4), nullable=False, default="both"),
    # web, import, cli
    Column("source", String(8), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("confirmed_at", UTCDateTime),
    Column("confirmation_sent_at", UTCDateTime),
    # The choices of the sign-up last mailed a link; applied when that link is confirmed.
    Column("pending_categories", String(200)),
    Column("pending_language", String(4)),
    # Recipients are streamed per status in id order.
    Index("ix_subscribers_status_id", "status", "id"),
    # Never reuse an erased subscriber's id: signed links name subscribers by id.
    sqlite_autoincrement=True,
)

# Every change of a subscriber's state: what, when, why. Survives erasure without the address.
subscriber_events = Table(
    "subscriber_events",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("subscriber_id", Id, ForeignKey("subscribers.id", ondelete="SET NULL"), index=True),
    Column("kind", String(32), nullable=False),
    Column("old_status", String(16)),
    Column("new_status", String(16)),
    Column("reason", Text, nullable=False, default=""),
    Column("created_at", UTCDateTime, nullable=False),
)

# Addresses that must never be mailed: bounced, complained, unsubscribed, erased.
# ``email`` is cleared when the subscriber asks to be erased; the hash still blocks it.
suppressions = Table(
    "suppressions",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("email_hash", String(64), nullable=False, unique=True),
    Column("email", String(320), index=True),
    Column("reason", String(32), nullable=False),
    Column("detail", Text, nullable=False, default=""),
    Column("created_at", UTCDateTime, nullable=False),
)

campaigns = Table(
    "campaigns",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("issue_date", String(10), nullable=False, unique=True),
    Column("issue_path", Text, nullable=False),
    # sending, paused, done
    Column("status", String(16), nullable=False),
    Column("paused_reason", Text, nullable=False, default=""),
    Column("total", Integer, nullable=False, default=0),
    Column("created_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime),
    # sha256 of the issue's validated content at the snapshot ("" for older campaigns).
    Column("content_sha256", String(64), nullable=False, server_default=""),
    # Issue 25: the health limits this campaign runs under, whichever process checks them
    # (None: the process's NEWSLETTER_MAX_BOUNCE_RATE / _COMPLAINT_RATE, as before).
    Column("max_bounce_rate", Float),
    Column("max_complaint_rate", Float),
)

deliveries = Table(
    "deliveries",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("campaign_id", Id, ForeignKey("campaigns.id"), nullable=False),
    Column("subscriber_id", Id, nullable=False),
    Column("email", String(320), nullable=False),
    Column("variant", String(220), nullable=False),
    # queued, sending, sent, failed, in_doubt, skipped
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("claimed_by", String(64)),
    Column("claimed_at", UTCDateTime),
    Column("sent_at", UTCDateTime),
    Column("provider_id", String(200)),
    Column("error", Text),
    # A delivery deferred after transient failures is not claimed again before this time.
    Column("not_before", UTCDateTime),
    # Issue 25: how often it was sent again after an attempt that may have reached SES (the
    # "resend" policy); a sent delivery with resends > 0 may have reached its reader twice.
    Column("resends", Integer, nullable=False, server_default="0"),
    Index("ix_deliveries_campaign_status_id", "campaign_id", "status", "id"),
    # The desk's per-variant counts of a campaign (index-only on PostgreSQL).
    Index("ix_deliveries_campaign_status_variant", "campaign_id", "status", "variant"),
    Index("uq_deliveries_campaign_subscriber", "campaign_id", "subscriber_id", unique=True),
    # SES events that carry neither our tag nor our header are matched by SES's message id.
    Index("ix_deliveries_provider_id", "provider_id"),
)

# Processes that send. A claim by a worker without a recent heartbeat is stale (in doubt);
# live workers with a campaign split the account's send rate between them.
workers = Table(
    "workers",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("host", String(255), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("campaign_id", Id),
    Column("started_at", UTCDateTime, nullable=False),
    Column("heartbeat_at", UTCDateTime, nullable=False),
)

# What SES told us, from the webhook or the SQS queue: one row per event, whichever way it
# came and however often. ``event_key`` (sha256 of the event's canonical JSON) makes
# applying an event twice a no-op; ``delivery_id`` is our delivery it is about, if known.
ses_events = Table(
    "ses_events",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("event_key", String(64), nullable=False, unique=True),
    # The SNS envelope's MessageId (None for raw SQS delivery): a replayed one is refused.
    Column("sns_message_id", String(100), index=True),
    # send, delivery, bounce, complaint, reject, delivery_delay, rendering_failure, open,
    # click, subscription, other
    Column("kind", String(24), nullable=False),
    Column("ses_message_id", String(200), index=True),
    Column("delivery_id", Id, index=True),
    Column("campaign_id", Id),
    Column("email", String(320), nullable=False, default=""),
    # Permanent, Transient or Undetermined for bounces; "" otherwise.
    Column("bounce_type", String(16), nullable=False, default=""),
    Column("machine", Integer, nullable=False, default=0),
    Column("detail", Text, nullable=False, default=""),
    Column("occurred_at", UTCDateTime),
    Column("received_at", UTCDateTime, nullable=False),
    Column("payload", Text, nullable=False),
    Index("ix_ses_events_campaign_id_kind", "campaign_id", "kind"),
    Index("ix_ses_events_email_kind", "email", "kind"),
)

# -- the desk (editors' web UI) ----------------------------------------------------------

# The desk's "address contains" search on PostgreSQL: a trigram index (pg_trgm) answers it
# without reading every address. SQLite has no such index; its lists are small.
Index(
    "ix_subscribers_email_trgm", subscribers.c.email,
    postgresql_using="gin", postgresql_ops={"email": "gin_trgm_ops"},
).ddl_if(dialect="postgresql")

# Sign-in links mailed to editors: the sha256 of the link's secret, never the secret.
desk_links = Table(
    "desk_links",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("email", String(320), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("used_at", UTCDateTime()),
)

# Signed-in editors: the sha256 of the session cookie's secret, so a copy of the table
# signs nobody in. Revoked by setting revoked_at; idle ones expire by last_seen_at.
desk_sessions = Table(
    "desk_sessions",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("email", String(320), nullable=False, index=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("last_seen_at", UTCDateTime(), nullable=False),
    Column("revoked_at", UTCDateTime()),
)

# Who did what on the desk, newest last.
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime(), nullable=False),
    Column("actor", String(320), nullable=False),
    Column("action", String(64), nullable=False),
    Column("target", String(320), nullable=False, server_default=""),
    Column("detail", Text(), nullable=False, server_default=""),
)

# Issues scheduled from the desk; `newsletter worker` starts each when it is due.
schedules = Table(
    "schedules",
    metadata,
    Column("issue_date", String(10), primary_key=True),
    Column("issue_path", Text(), nullable=False),
    Column("send_at", UTCDateTime(), nullable=False, index=True),
    Column("created_by", String(320), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("started_at", UTCDateTime()),
)

# -- issue 25: exactly once under every fault ---------------------------------------------

# Queue messages that could not be used (not JSON, forged, unreadable, refused by the
# database), set aside with the reason instead of blocking or crashing the poller. The body
# is kept as received (UTF-8 bytes: NUL characters and all).
dead_letters = Table(
    "dead_letters",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("source", String(16), nullable=False),
    Column("reason", Text, nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("received_at", UTCDateTime(), nullable=False, index=True),
)

# The consumers of SES events (`events poll`, the webhook in `serve`), each beating while it
# runs: in-doubt deliveries are resent only when a feed is current past them. ``current_to``
# is the watermark (every event SES published before it has been received): for the SQS
# poller, when it last found the queue empty; for the webhook, now while it runs (it receives
# only what SNS pushes while it is up: ``covers_from`` is when it started).
event_feeds = Table(
    "event_feeds",
    metadata,
    Column("name", String(300), primary_key=True),
    Column("covers_from", UTCDateTime()),
    Column("current_to", UTCDateTime()),
    Column("heartbeat_at", UTCDateTime(), nullable=False),
)
# -- issue 17: what readers did ------------------------------------------------------------
# SES's Delivery, Bounce, Complaint, Open and Click events rolled up as they are applied:
# one row per delivery SES told us about, per-campaign counters by variant, per-link
# counters and who clicked which link. The raw rows in ``ses_events`` can then be pruned.
delivery_activity = Table(
    "delivery_activity",
    metadata,
    Column("delivery_id", Id, primary_key=True, autoincrement=False),
    Column("campaign_id", Id, nullable=False),
    Column("delivered_at", UTCDateTime),
    Column("bounced", Integer, nullable=False, default=0),
    Column("complained", Integer, nullable=False, default=0),
    Column("opened_at", UTCDateTime),  # the first open by a reader
    Column("machine_opened_at", UTCDateTime),  # the first open by a machine (proxy, scanner)
    Column("opens", Integer, nullable=False, default=0),
    Column("clicked_at", UTCDateTime),
    Column("clicks", Integer, nullable=False, default=0),
)

# Per campaign and variant: deliveries delivered, bounced, complained, opened by a reader,
# opened by machines only, clicked; and every open and click.
campaign_counts = Table(
    "campaign_counts",
    metadata,
    Column("campaign_id", Id, primary_key=True, autoincrement=False),
    Column("variant", String(220), primary_key=True),
    Column("delivered", BigInteger, nullable=False, default=0),
    Column("bounced", BigInteger, nullable=False, default=0),
    Column("complained", BigInteger, nullable=False, default=0),
    Column("opened_unique", BigInteger, nullable=False, default=0),
    Column("opened_machine", BigInteger, nullable=False, default=0),
    Column("clicked_unique", BigInteger, nullable=False, default=0),
    Column("opens_total", BigInteger, nullable=False, default=0),
    Column("clicks_total", BigInteger, nullable=False, default=0),
)

# Per campaign and link: a paper (by arXiv id), the archive, a reader's page, another URL.
campaign_links = Table(
    "campaign_links",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("campaign_id", Id, nullable=False),
    # paper, archive, preferences, unsubscribe, keep, other
    Column("kind", String(16), nullable=False),
    Column("key", String(300), nullable=False),
    Column("clicks", BigInteger, nullable=False, default=0),
    Column("readers", BigInteger, nullable=False, default=0),
    Index("uq_campaign_links_campaign_id_key", "campaign_id", "key", unique=True),
)

# Which delivery clicked which link, and how often: what makes ``readers`` exact.
delivery_links = Table(
    "delivery_links",
    metadata,
    Column("delivery_id", Id, primary_key=True, autoincrement=False),
    Column("link_id", Id, primary_key=True, autoincrement=False),
    Column("clicks", Integer, nullable=False, default=0),
)

# What a reader did through the links of one issue: unsubscribe, preferences, keep
# (pressed "Keep me subscribed"). Bounces and complaints are SES's, counted apart.
reader_actions = Table(
    "reader_actions",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("campaign_id", Id),
    Column("delivery_id", Id),
    Column("subscriber_id", Id, nullable=False),
    Column("action", String(16), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Index("ix_reader_actions_campaign_id_action", "campaign_id", "action"),
    Index("ix_reader_actions_subscriber_id", "subscriber_id"),
)

# The sunset rule's re-engagement emails: when a reader was asked, and whether they kept on.
reengagements = Table(
    "reengagements",
    metadata,
    Column("subscriber_id", Id, primary_key=True, autoincrement=False),
    Column("asked_at", UTCDateTime, nullable=False),
    Column("kept_at", UTCDateTime),
)

# Trends read subscriber history by day; pruning reads events by age.
Index("ix_subscriber_events_created_at", subscriber_events.c.created_at)
# -- the paper index (issue 20) ----------------------------------------------------------

# Which published issue files the paper index holds, and the version of each it read
# (the file's size and modification time), so that only changed issues are read again.
paper_issues = Table(
    "paper_issues",
    metadata,
    Column("issue_date", String(10), primary_key=True),
    Column("version", String(100), nullable=False),
)

# Each paper as one issue gave it (JSON of a one-appearance PaperRecord).
paper_appearances = Table(
    "paper_appearances",
    metadata,
    Column("arxiv_id", String(40), primary_key=True),
    Column("issue_date", String(10), primary_key=True, index=True),
    Column("data", Text, nullable=False),
)

# One row per paper: every appearance merged (JSON of a PaperRecord), and what search
# filters on. ``search`` is the weighted full-text vector on PostgreSQL; SQLite searches
# the FTS5 table ``paper_fts`` instead (rowid = ``papers.id``), made by migration 0009
# since SQLAlchemy cannot declare a virtual table.
papers = Table(
    "papers",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("arxiv_id", String(40), nullable=False, unique=True),
    Column("category", String(32), nullable=False, index=True),
    Column("first_date", String(10), nullable=False),
    Column("last_date", String(10), nullable=False, index=True),
    Column("year", Integer, nullable=False, index=True),
    Column("data", Text, nullable=False),
    Column("search", TSVECTOR().with_variant(Text(), "sqlite")),
    # The titles alone, so that search can take the papers whose titles match first.
    Column("title_search", TSVECTOR().with_variant(Text(), "sqlite")),
)
Index("ix_papers_search", papers.c.search, postgresql_using="gin").ddl_if(dialect="postgresql")
Index("ix_papers_title_search", papers.c.title_search,
      postgresql_using="gin").ddl_if(dialect="postgresql")

# Tables the migrations make that SQLAlchemy cannot declare, per backend: SQLite's FTS5
# table and the shadow tables FTS5 keeps its index in.
UNDECLARED_TABLES = {
    "sqlite": frozenset({"paper_fts", "paper_fts_data", "paper_fts_idx", "paper_fts_content",
                         "paper_fts_docsize", "paper_fts_config"}),
    "postgresql": frozenset(),
}

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

# -- issue 21: each reader's own newsletter ----------------------------------------------

# A reader's frequency, paper limit and follows (``model/editions.py``); no row is the
# default (daily, every paper, no follows), so most readers need none. ``paused_until`` is
# an ISO date, compared as text with an issue's date: a pause that has ended is daily.
reader_preferences = Table(
    "reader_preferences",
    metadata,
    Column(
        "subscriber_id", Id, ForeignKey("subscribers.id", ondelete="CASCADE"), primary_key=True
    ),
    # daily, weekly, paused
    Column("frequency", String(8), nullable=False),
    # 0 = Monday ... 6 = Sunday, for weekly readers.
    Column("weekday", Integer),
    Column("paused_until", String(10)),
    # 10, 5 or 3; NULL for every paper.
    Column("max_papers", Integer),
    # The follows' ``;``-separated text form (``author:NAME; affiliation:NAME; keyword``).
    Column("follows", Text, nullable=False, server_default=""),
    Column("updated_at", UTCDateTime, nullable=False),
)

# A reader's "More like this" (more) or "Not for me" (less) about one paper of one
# campaign; the latest press counts. Counted per campaign and paper for its report.
paper_feedback = Table(
    "paper_feedback",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("campaign_id", Id, ForeignKey("campaigns.id"), nullable=False),
    Column(
        "subscriber_id", Id, ForeignKey("subscribers.id", ondelete="CASCADE"), nullable=False
    ),
    Column("arxiv_id", String(40), nullable=False),
    # more, less
    Column("kind", String(8), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Index(
        "uq_paper_feedback_campaign_subscriber_paper",
        "campaign_id", "subscriber_id", "arxiv_id", unique=True,
    ),
    Index("ix_paper_feedback_campaign_id_arxiv_id", "campaign_id", "arxiv_id"),
    Index("ix_paper_feedback_subscriber_id", "subscriber_id"),
)
