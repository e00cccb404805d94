"""The desk's reads about readers: search, one reader's history and deliveries, suppressions.

Built for a million subscribers in PostgreSQL. Every list is a keyset page (``LIMIT
size + 1`` tells whether another page follows; nothing is counted):

- no address given: newest first by id, on the primary key, or on ``(status, id)`` when a
  status is chosen;
- an address prefix: ``email >= q AND email < q || U+FFFF``, a range on the unique index of
  the (lower-case ASCII) addresses, in address order. The range is exact only when the
  database compares bytewise (C, POSIX, C.UTF-8; SQLite always does), so it is used only
  after a probe of the collation says so; otherwise the match is a ``LIKE 'q%'``;
- an address substring: ``LIKE '%q%'`` in address order, which reads the whole table when
  few rows match (about 0.1 s for a million) but stops at the page's last row; a
  ``pg_trgm`` GIN index on ``email`` would make it an index search (5 ms).

A reader's deliveries are read campaign by campaign through the unique index on
``(campaign_id, subscriber_id)``: ``deliveries`` has no index on ``subscriber_id`` alone,
and campaigns are few (one a day) where deliveries are many.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, false, literal, select, text, true

from newsletter.model.addresses import email_hash
from newsletter.model.subscribers import Event, Subscriber
from newsletter.store.base import Store
from newsletter.store.db import Database
from newsletter.store.subscribers import _SUBSCRIBER_COLUMNS, _subscriber
from newsletter.store.tables import (
    campaigns,
    deliveries,
    ses_events,
    subscriber_events,
    subscribers,
    suppressions,
)
from newsletter.vocabulary import CATEGORY_CODE, SUPPRESSED_STATUSES

PAGE_SIZE = 50
EVERY_CATEGORY = "*"  # the category filter for readers who chose no category (all of them)
_TOP = "\uffff"  # sorts after every character an address may hold (they are ASCII)
_LOOKUP_BATCH = 1000


@dataclass(frozen=True)
class ReaderFilter:
    """What the desk's search asks for. ``text`` is matched against the address, lower-cased:
    as a prefix, or anywhere in it when ``contains``. ``category`` is a code (readers who
    chose it) or :data:`EVERY_CATEGORY`."""

    text: str = ""
    contains: bool = False
    status: str | None = None
    category: str | None = None
    language: str | None = None


@dataclass(frozen=True)
class ReaderPage:
    """One page of readers, and the cursors of the pages around it (None: no such page)."""

    readers: list[Subscriber]
    next_after: str | None
    prev_before: str | None


@dataclass(frozen=True)
class ReaderDelivery:
    """One delivery of an issue to a reader."""

    id: int
    campaign_id: int
    issue_date: str
    variant: str
    status: str
    attempts: int
    error: str | None
    sent_at: dt.datetime | None


@dataclass(frozen=True)
class ReaderSesEvent:
    """What SES said about one of a reader's deliveries."""

    delivery_id: int
    kind: str
    bounce_type: str
    detail: str
    occurred_at: dt.datetime | None
    received_at: dt.datetime


@dataclass(frozen=True)
class SuppressionRow:
    """A suppression as the desk lists it; ``email`` is None for an erased address."""

    id: int
    email: str | None
    email_hash: str
    reason: str
    detail: str
    created_at: dt.datetime


@dataclass(frozen=True)
class SuppressionPage:
    items: list[SuppressionRow]
    older: int | None  # the cursor (an id) of the next, older page
    newer: int | None  # the cursor of the previous, newer page


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class ReaderQueries(Store):
    """The desk's read-only queries over subscribers, their events, deliveries and
    suppressions (changes go through :class:`SubscriberStore`)."""

    def __init__(self, db: Database) -> None:
        super().__init__(db)
        self._bytewise: bool | None = None

    # -- growth ----------------------------------------------------------------------------

    def growth(self, since: dt.datetime) -> tuple[dict[dt.date, int], dict[dt.date, int]]:
        """Per UTC day since ``since``: readers who signed up, and readers who left
        (unsubscribed, bounced or complained: events into a suppressed status)."""
        joined = select(subscribers.c.created_at).where(subscribers.c.created_at >= since)
        left = select(subscriber_events.c.created_at).where(
            subscriber_events.c.created_at >= since,
            subscriber_events.c.new_status.in_(sorted(SUPPRESSED_STATUSES)),
        )
        with self.engine.connect() as conn:
            return _by_day(conn.execute(joined).scalars()), _by_day(conn.execute(left).scalars())

    # -- search ------------------------------------------------------------------------------

    def search(self, query: ReaderFilter, after: str | None = None, before: str | None = None,
               size: int = PAGE_SIZE) -> ReaderPage:
        """A page of readers matching ``query``: the first, the one after the cursor
        ``after`` or the one before ``before`` (cursors come from an earlier page)."""
        by_email = bool(query.text)
        key: Any = subscribers.c.email if by_email else subscribers.c.id
        where = self._conditions(query)
        cursor = self._cursor(before, by_email)
        backwards = cursor is not None
        if not backwards:
            cursor = self._cursor(after, by_email)
        # Address order is ascending, id order newest first; going back reverses either.
        ascending = by_email != backwards
        if cursor is not None:
            where.append(key > cursor if ascending else key < cursor)
        statement = (select(*_SUBSCRIBER_COLUMNS).where(*where)
                     .order_by(key.asc() if ascending else key.desc()).limit(size + 1))
        with self.engine.connect() as conn:
            rows = [_subscriber(row) for row in conn.execute(statement)]
        more = len(rows) > size
        rows = rows[:size]
        if backwards:
            rows.reverse()

        def key_of(reader: Subscriber) -> str:
            return reader.email if by_email else str(reader.id)

        has_next = more if not backwards else True
        has_prev = more if backwards else cursor is not None
        return ReaderPage(
            rows,
            key_of(rows[-1]) if rows and has_next else None,
            key_of(rows[0]) if rows and has_prev else None,
        )

    def _conditions(self, query: ReaderFilter) -> list[ColumnElement[bool]]:
        where: list[ColumnElement[bool]] = []
        if query.status:
            where.append(subscribers.c.status == query.status)
        if query.language:
            where.append(subscribers.c.language == query.language)
        if query.category == EVERY_CATEGORY:
            where.append(subscribers.c.categories == "")
        elif query.category and CATEGORY_CODE.fullmatch(query.category):
            # Stored sorted and comma-separated: "CV,LG".
            padded = literal(",") + subscribers.c.categories + literal(",")
            where.append(padded.like(f"%,{query.category},%"))
        elif query.category:
            where.append(false())  # no reader has a malformed code
        text_ = query.text.lower()
        if text_ and query.contains:
            where.append(subscribers.c.email.like(f"%{_escape_like(text_)}%", escape="\\"))
        elif text_ and self._compares_bytewise():
            where += [subscribers.c.email >= text_, subscribers.c.email < text_ + _TOP]
        elif text_:
            where.append(subscribers.c.email.like(f"{_escape_like(text_)}%", escape="\\"))
        return where or [true()]

    @staticmethod
    def _cursor(value: str | None, by_email: bool) -> str | int | None:
        if value is None or value == "":
            return None
        if by_email:
            return value[:320]
        return int(value) if value.isdigit() and len(value) < 19 else None

    def _compares_bytewise(self) -> bool:
        """Whether text compares byte by byte here (then an address prefix is a range)."""
        if self._bytewise is None:
            with self.engine.connect() as conn:
                probe = conn.execute(text("SELECT 'B' < 'a' AND 'a-c' < 'ab'")).scalar()
            self._bytewise = bool(probe)
        return self._bytewise

    # -- one reader --------------------------------------------------------------------------

    def history(self, subscriber_id: int, limit: int = 200) -> list[Event]:
        """The reader's latest ``limit`` events (sign-up, confirm, preferences, status
        changes, suppressions), newest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(subscriber_events)
                .where(subscriber_events.c.subscriber_id == subscriber_id)
                .order_by(subscriber_events.c.id.desc()).limit(limit)
            ).all()
        return [Event(r.id, r.subscriber_id, r.kind, r.old_status, r.new_status, r.reason,
                      r.created_at) for r in rows]

    def deliveries(self, subscriber_id: int, before_campaign: int | None = None,
                   size: int = PAGE_SIZE) -> tuple[list[ReaderDelivery], int | None]:
        """The reader's deliveries, newest campaign first, ``size`` of them from before the
        campaign ``before_campaign``; and the cursor of the older ones (None: no more)."""
        join = and_(deliveries.c.campaign_id == campaigns.c.id,
                    deliveries.c.subscriber_id == subscriber_id)
        statement: Select[Any] = (
            select(deliveries.c.id, deliveries.c.campaign_id, campaigns.c.issue_date,
                   deliveries.c.variant, deliveries.c.status, deliveries.c.attempts,
                   deliveries.c.error, deliveries.c.sent_at)
            .select_from(campaigns.join(deliveries, join))
            .order_by(campaigns.c.id.desc()).limit(size + 1)
        )
        if before_campaign is not None:
            statement = statement.where(campaigns.c.id < before_campaign)
        with self.engine.connect() as conn:
            found = [ReaderDelivery(*row) for row in conn.execute(statement)]
        older = found[size - 1].campaign_id if len(found) > size else None
        return found[:size], older

    def ses_events(self, delivery_ids: Collection[int], limit: int = 500
                   ) -> list[ReaderSesEvent]:
        """SES's events about these deliveries, in the order they happened."""
        if not delivery_ids:
            return []
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(ses_events.c.delivery_id, ses_events.c.kind, ses_events.c.bounce_type,
                       ses_events.c.detail, ses_events.c.occurred_at, ses_events.c.received_at)
                .where(ses_events.c.delivery_id.in_(list(delivery_ids)))
                .order_by(ses_events.c.id).limit(limit)
            ).all()
        return [ReaderSesEvent(*row) for row in rows]

    # -- addresses in bulk (an import's dry run) ---------------------------------------------

    def listed(self, emails: Collection[str]) -> set[str]:
        """Which of these normalised addresses are subscribers."""
        found: set[str] = set()
        with self.engine.connect() as conn:
            for part in _batches(sorted(emails)):
                found.update(conn.execute(
                    select(subscribers.c.email).where(subscribers.c.email.in_(part))).scalars())
        return found

    def suppressed(self, emails: Collection[str]) -> set[str]:
        """Which of these normalised addresses are suppressed (by hash: erased ones too)."""
        hashes = {email_hash(email): email for email in emails}
        found: set[str] = set()
        with self.engine.connect() as conn:
            for part in _batches(sorted(hashes)):
                found.update(hashes[digest] for digest in conn.execute(
                    select(suppressions.c.email_hash)
                    .where(suppressions.c.email_hash.in_(part))).scalars())
        return found

    # -- suppressions ------------------------------------------------------------------------

    def suppression_page(self, older_than: int | None = None, newer_than: int | None = None,
                         size: int = PAGE_SIZE) -> SuppressionPage:
        """A page of suppressions, newest first: the first, the one older than the id
        ``older_than`` or the one newer than ``newer_than``."""
        key = suppressions.c.id
        statement = select(suppressions).limit(size + 1)
        if newer_than is not None:
            statement = statement.where(key > newer_than).order_by(key.asc())
        else:
            statement = statement.order_by(key.desc())
            if older_than is not None:
                statement = statement.where(key < older_than)
        with self.engine.connect() as conn:
            items = [SuppressionRow(r.id, r.email, r.email_hash, r.reason, r.detail,
                                    r.created_at) for r in conn.execute(statement)]
        more = len(items) > size
        items = items[:size]
        if newer_than is not None:
            items.reverse()
            return SuppressionPage(items, items[-1].id if items else None,
                                   items[0].id if items and more else None)
        return SuppressionPage(items, items[-1].id if items and more else None,
                               items[0].id if items and older_than is not None else None)


def _batches(values: Sequence[str]) -> list[Sequence[str]]:
    return [values[i:i + _LOOKUP_BATCH] for i in range(0, len(values), _LOOKUP_BATCH)]


def _by_day(times: Iterable[dt.datetime]) -> dict[dt.date, int]:
    days: dict[dt.date, int] = {}
    for when in times:
        day = when.astimezone(dt.UTC).date()
        days[day] = days.get(day, 0) + 1
    return days
