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
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    TypeDecorator,
    text,
)
from sqlalchemy.engine import Dialect

from newsletter.store.packing import MessageId, Payload

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
    # sha256 of the validated content at the snapshot ("" for older campaigns).
    Column("content_sha256", String(64), nullable=False, server_default=""),
    # Issue 25: the health limits this campaign runs under, whichever process checks them
    # (None: the process's NEWSLETTER_MAX_BOUNCE_RATE / _COMPLAINT_RATE, as before).
    Column("max_bounce_rate", Float),
    Column("max_complaint_rate", Float),
)

# Issue 17: about 300 bytes a delivery with its events (PostgreSQL), so the columns are in
# the order that packs (8-byte ones first, then 4, 2, then text), the reader's engagement
# is on the row itself (no second row and key per delivery), the address is the reader's
# (``subscribers.email``, which never changes; gone when they are erased), and only the
# indexes something reads are kept. ``ix_deliveries_claimable`` holds only rows still to
# be settled, so it is empty once a campaign is done; SES's message id is looked up through
# the reader (``uq_deliveries_subscriber_campaign``), not by an index of its own.
# The predicate of the partial claim index, word for word: a query that should use the
# index repeats it (SQLite uses a partial index only for a query whose WHERE holds the
# index's own terms; a bound parameter never matches one).
UNSETTLED = "status IN ('queued', 'sending', 'in_doubt')"

deliveries = Table(
    "deliveries",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("campaign_id", Id, ForeignKey("campaigns.id"), nullable=False),
    Column("subscriber_id", Id, nullable=False),
    # The worker that claimed it last, by ``worker_key`` (8 bytes, not its 50-character id).
    Column("claimed_by", BigInteger),
    Column("claimed_at", UTCDateTime),
    Column("sent_at", UTCDateTime),
    # A delivery deferred after transient failures is not claimed again before this time.
    Column("not_before", UTCDateTime),
    # What SES said happened (issue 17, rolled up by store/rollup.py): the first delivery,
    # open by a reader, open by a machine (proxy, scanner) and click.
    Column("delivered_at", UTCDateTime),
    Column("opened_at", UTCDateTime),
    Column("machine_opened_at", UTCDateTime),
    Column("clicked_at", UTCDateTime),
    Column("opens", Integer, nullable=False, server_default="0"),
    Column("clicks", Integer, nullable=False, server_default="0"),
    Column("attempts", SmallInteger, nullable=False, default=0),
    # Issue 25: how often it was sent again after an attempt that may have reached SES (the
    # "resend" policy); a sent delivery with resends > 0 may have reached its reader twice.
    Column("resends", SmallInteger, nullable=False, server_default="0"),
    Column("bounced", SmallInteger, nullable=False, server_default="0"),
    Column("complained", SmallInteger, nullable=False, server_default="0"),
    # queued, sending, sent, failed, in_doubt, skipped
    Column("status", String(16), nullable=False),
    Column("variant", String(220), nullable=False),
    Column("provider_id", MessageId),
    Column("error", Text),
    Index("ix_deliveries_claimable", "campaign_id", "id",
          postgresql_where=text(UNSETTLED), sqlite_where=text(UNSETTLED)),
    # Counts by status and variant (index-only on PostgreSQL), and the rows of one status.
    Index("ix_deliveries_campaign_status_variant", "campaign_id", "status", "variant"),
    # Exactly once per reader and campaign; a reader's deliveries (the desk, SES events
    # matched by message id through the reader's address).
    Index("uq_deliveries_subscriber_campaign", "subscriber_id", "campaign_id", unique=True),
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
# Three indexes are partial (issue 17, migration 0017): a rolled-up event (most of them:
# ``store/event_rows.py``) keeps no SES message id or address, and one from raw SQS
# delivery has no SNS message id, so their rows are not indexed by them. The predicates,
# word for word: a query that should use one of these indexes repeats its predicate
# (SQLite uses a partial index only when the query's WHERE holds the index's own terms).
HAS_SNS_ID = "sns_message_id IS NOT NULL"
HAS_SES_ID = "ses_message_id IS NOT NULL"
HAS_EMAIL = "email <> ''"
ses_events = Table(
    "ses_events",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("event_key", String(64), nullable=False, unique=True),
    # The SNS envelope's MessageId (None for raw SQS delivery): a replayed one is refused.
    Column("sns_message_id", String(100)),
    # send, delivery, bounce, complaint, reject, delivery_delay, rendering_failure, open,
    # click, subscription, other
    Column("kind", String(24), nullable=False),
    Column("ses_message_id", String(200)),
    Column("delivery_id", Id, index=True),
    Column("campaign_id", Id),
    Column("email", String(320), nullable=False, default=""),
    # Permanent, Transient or Undetermined for bounces; "" otherwise.
    Column("bounce_type", String(16), nullable=False, default=""),
    Column("machine", Integer, nullable=False, default=0),
    Column("detail", Text, nullable=False, default=""),
    Column("occurred_at", UTCDateTime),
    Column("received_at", UTCDateTime, nullable=False),
    # Kept for bounces and complaints (and unmatched events): compressed (store/packing.py).
    Column("payload", Payload, nullable=False),
    Index("ix_ses_events_campaign_id_kind", "campaign_id", "kind"),
    Index("ix_ses_events_email_kind", "email", "kind",
          postgresql_where=text(HAS_EMAIL), sqlite_where=text(HAS_EMAIL)),
    Index("ix_ses_events_sns_message_id", "sns_message_id",
          postgresql_where=text(HAS_SNS_ID), sqlite_where=text(HAS_SNS_ID)),
    Index("ix_ses_events_ses_message_id", "ses_message_id",
          postgresql_where=text(HAS_SES_ID), sqlite_where=text(HAS_SES_ID)),
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


# The tables of later features, in modules of their own on this ``metadata``: imported
# here so that every table is declared once this module is.
from newsletter.store import (  # noqa: E402, F401
    tables_activity,
    tables_api,
    tables_editions,
    tables_papers,
    tables_sending,
)
