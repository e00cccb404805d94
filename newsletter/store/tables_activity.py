"""What happened to deliveries after they left: SES feeds and dead letters (issue 25), events
rolled up into what readers did (issue 17).

On the ``metadata`` of ``tables.py``, which imports this module.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, LargeBinary, String, Table, Text

from newsletter.store.tables import Id, UTCDateTime, metadata, subscriber_events

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
# each delivery's own state is on its row in ``deliveries`` (``delivered_at`` ...
# ``complained``); here per-campaign counters by variant, per-link counters and who clicked
# which link. The raw rows in ``ses_events`` can then be pruned.
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

# Sign-ups answered "check your inbox" and not yet handled: kept here, not in memory, so a
# restart or a crash of `serve` loses none. ``source`` is the client's rate-limit key (its
# address, or its IPv6 /64), which bounds how much of the queue one source may hold;
# ``taken_until`` is the lease of the process handling it.
signup_queue = Table(
    "signup_queue",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("email", String(320), nullable=False),
    Column("categories", String(200), nullable=False),
    Column("language", String(4), nullable=False),
    Column("source", String(64), nullable=False, index=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("taken_until", UTCDateTime()),
)

# The trends' figures of each finished UTC day, counted once from ``subscriber_events``
# (a day that is over does not change); today is always counted afresh.
trend_days = Table(
    "trend_days",
    metadata,
    Column("day", String(10), primary_key=True),
    Column("signups", Integer, nullable=False, default=0),
    Column("confirmations", Integer, nullable=False, default=0),
    Column("added", Integer, nullable=False, default=0),
    Column("left_reader", Integer, nullable=False, default=0),
    Column("left_bounce", Integer, nullable=False, default=0),
    Column("left_complaint", Integer, nullable=False, default=0),
    Column("left_inactive", Integer, nullable=False, default=0),
)
