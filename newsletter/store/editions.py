"""Readers' own preferences (issue 21): frequency, paper limit, follows, in one table.

A reader without a row has the default (daily, every paper, no follows); saving the
default deletes the row, so the table holds only readers who chose something.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    String,
    and_,
    case,
    cast,
    delete,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
)

from newsletter.clock import utc_now
from newsletter.errors import InvalidPreferencesError, UnknownSubscriberError
from newsletter.model.editions import (
    Follow,
    Frequency,
    ReaderPreferences,
    parse_follows,
    weekly_day,
)
from newsletter.store.base import Store
from newsletter.store.db import Database
from newsletter.store.rows import record_event
from newsletter.store.tables import campaigns, deliveries, subscribers, suppressions
from newsletter.store.tables_activity import campaign_links
from newsletter.store.tables_editions import reader_preferences

_COLUMNS = (
    reader_preferences.c.subscriber_id,
    reader_preferences.c.frequency,
    reader_preferences.c.weekday,
    reader_preferences.c.paused_until,
    reader_preferences.c.max_papers,
    reader_preferences.c.follows,
)


def preferences_of(row: Sequence[Any]) -> ReaderPreferences:
    """A stored row (the columns of :data:`_COLUMNS` after the id) as preferences."""
    kind, weekday, until, max_papers, follows = row
    if kind == "weekly":
        frequency = Frequency("weekly", weekday=int(weekday))
    elif kind == "paused" and until:
        frequency = Frequency("paused", until=dt.date.fromisoformat(until))
    else:
        frequency = Frequency()
    return ReaderPreferences(
        frequency, None if max_papers is None else int(max_papers), parse_follows(follows or "")
    )


def _values(subscriber_id: int, prefs: ReaderPreferences, now: dt.datetime) -> dict[str, Any]:
    frequency = prefs.frequency
    return {
        "subscriber_id": subscriber_id,
        "frequency": frequency.kind,
        "weekday": frequency.weekday,
        "paused_until": frequency.until.isoformat() if frequency.until else None,
        "max_papers": prefs.max_papers,
        "follows": prefs.follows_cell(),
        "updated_at": now,
    }


def insert_preferences(
    conn: Connection, chosen: Iterable[tuple[int, ReaderPreferences]], now: dt.datetime
) -> None:
    """Write the non-default preferences of new subscribers (an import batch), in ``conn``'s
    transaction."""
    rows = [_values(sid, prefs, now) for sid, prefs in chosen if not prefs.is_default]
    if rows:
        conn.execute(insert(reader_preferences), rows)


class PreferenceStore(Store):
    """Reading and saving readers' preferences on ``db``; ``clock`` gives aware UTC times."""

    def __init__(self, db: Database, clock: Callable[[], dt.datetime] = utc_now) -> None:
        super().__init__(db)
        self.clock = clock

    def get(self, subscriber_id: int) -> ReaderPreferences:
        """The reader's preferences (the default when they chose nothing)."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(*_COLUMNS[1:]).where(reader_preferences.c.subscriber_id == subscriber_id)
            ).first()
        return preferences_of(row) if row else ReaderPreferences()

    def chosen(self) -> dict[int, ReaderPreferences]:
        """Every reader's preferences that differ from the default, by subscriber id."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(*_COLUMNS).order_by(reader_preferences.c.subscriber_id))
            return {int(row[0]): preferences_of(row[1:]) for row in rows}

    def weekly_readers(self) -> dict[int, int]:
        """Active, unsuppressed weekly readers per weekday; see :func:`weekly_readers`."""
        return weekly_readers(self.engine)

    def set(
        self, subscriber_id: int, prefs: ReaderPreferences, reason: str = "preferences"
    ) -> ReaderPreferences:
        """Replace the reader's preferences and record a ``delivery`` event saying what they
        are now. Raises :class:`UnknownSubscriberError`."""
        now = self.clock()
        with self.engine.begin() as conn:
            status = conn.execute(
                select(subscribers.c.status)
                .where(subscribers.c.id == subscriber_id)
                .with_for_update()
            ).scalar_one_or_none()
            if status is None:
                raise UnknownSubscriberError(f"no subscriber has id {subscriber_id}")
            conn.execute(
                delete(reader_preferences).where(
                    reader_preferences.c.subscriber_id == subscriber_id
                )
            )
            insert_preferences(conn, [(subscriber_id, prefs)], now)
            what = (
                f"{reason} (frequency {prefs.frequency}, max papers "
                f"{prefs.max_papers_cell() or 'all'}, follows {len(prefs.follows)})"
            )
            record_event(conn, subscriber_id, "delivery", status, status, what, now)
        return prefs


# -- who gets what (the SQL the campaign snapshot and the plan share) --------------------


def gets_daily(issue_date: str) -> ColumnElement[bool]:
    """SQL: the reader (``subscribers`` outer-joined with ``reader_preferences``) gets the
    daily issue of ``issue_date``: no row, daily, or a pause that ended by then."""
    prefs = reader_preferences.c
    return or_(
        prefs.frequency.is_(None),
        prefs.frequency == "daily",
        and_(prefs.frequency == "paused", prefs.paused_until <= issue_date),
    )


def gets_issue(issue_date: str) -> ColumnElement[bool]:
    """SQL: the reader gets the issue with this campaign key: for a weekly edition's key
    (``W20261206``) the weekly readers of that weekday, else :func:`gets_daily`."""
    day = weekly_day(issue_date)
    if day is None:
        return gets_daily(issue_date)
    prefs = reader_preferences.c
    return and_(prefs.frequency == "weekly", prefs.weekday == day.weekday())


def limit_suffix() -> ColumnElement[Any]:
    """SQL: ``:N`` for a reader with a paper limit, "" otherwise (``Variant.key``'s tail)."""
    limit = reader_preferences.c.max_papers
    return case(
        (limit.is_not(None), literal(":") + cast(limit, String)), else_=literal("")
    )


def with_preferences() -> Any:
    """``subscribers`` LEFT JOIN ``reader_preferences``: every reader, with or without a row."""
    return subscribers.outerjoin(
        reader_preferences, reader_preferences.c.subscriber_id == subscribers.c.id
    )


def waiting_readers(engine: Engine, issue_date: str) -> tuple[dict[int, int], int]:
    """Active, unsuppressed readers the daily issue of ``issue_date`` skips because of
    their frequency: weekly readers per weekday (0 = Monday), and paused readers."""
    prefs = reader_preferences.c
    suppressed = exists().where(suppressions.c.email == subscribers.c.email)
    query = (
        select(prefs.frequency, prefs.weekday, func.count())
        .select_from(with_preferences())
        .where(subscribers.c.status == "active", ~suppressed, ~gets_daily(issue_date))
        .group_by(prefs.frequency, prefs.weekday)
    )
    weekly: dict[int, int] = {}
    paused = 0
    with engine.connect() as conn:
        for frequency, weekday, n in conn.execute(query).all():
            if frequency == "weekly" and weekday is not None:
                weekly[int(weekday)] = weekly.get(int(weekday), 0) + int(n)
            else:
                paused += int(n)
    return dict(sorted(weekly.items())), paused


def deliveries_by_variant(engine: Engine, campaign_id: int) -> dict[str, int]:
    """How many deliveries of a campaign each variant key has."""
    d = deliveries.c
    query = (
        select(d.variant, func.count())
        .where(d.campaign_id == campaign_id)
        .group_by(d.variant)
        .order_by(d.variant)
    )
    with engine.connect() as conn:
        return {str(key): int(n) for key, n in conn.execute(query).all()}


def follows_of_campaign(engine: Engine, campaign_id: int) -> dict[int, tuple[Follow, ...]]:
    """The follows of every reader of a campaign who still may be sent to and follows
    something, by subscriber id (what each one's "For you" block is made from)."""
    d, prefs = deliveries.c, reader_preferences.c
    query = (
        select(d.subscriber_id, prefs.follows)
        .join_from(deliveries, reader_preferences, prefs.subscriber_id == d.subscriber_id)
        .where(
            d.campaign_id == campaign_id,
            d.status.in_(("queued", "sending", "in_doubt")),
            prefs.follows != "",
        )
    )
    parsed: dict[str, tuple[Follow, ...]] = {}
    found: dict[int, tuple[Follow, ...]] = {}
    with engine.connect() as conn:
        for subscriber_id, cell in conn.execution_options(yield_per=5000).execute(query):
            follows = parsed.get(cell)
            if follows is None:
                follows = parsed[cell] = _stored_follows(cell)
            found[int(subscriber_id)] = follows
    return found


def _stored_follows(cell: str) -> tuple[Follow, ...]:
    # Stored follows were checked when saved; a row the rules now refuse follows nothing
    # rather than stopping a send.
    try:
        return parse_follows(cell)
    except InvalidPreferencesError:
        return ()


def weekly_readers(engine: Engine) -> dict[int, int]:
    """Active, unsuppressed weekly readers per weekday (0 = Monday)."""
    prefs = reader_preferences.c
    suppressed = exists().where(suppressions.c.email == subscribers.c.email)
    query = (
        select(prefs.weekday, func.count())
        .select_from(with_preferences())
        .where(subscribers.c.status == "active", ~suppressed, prefs.frequency == "weekly")
        .group_by(prefs.weekday)
    )
    with engine.connect() as conn:
        return {int(day): int(n) for day, n in conn.execute(query).all() if day is not None}


def clicks_by_link(engine: Engine, issue_dates: Iterable[str]) -> dict[str, int]:
    """Readers who clicked each paper in the campaigns of these keys, by the paper's
    abstract link: the roll-up's per-link counters (issue 17), which outlive the raw click
    events (a matched click keeps neither its link nor its reader)."""
    query = (
        select(campaign_links.c.key, func.sum(campaign_links.c.readers))
        .join_from(campaign_links, campaigns, campaigns.c.id == campaign_links.c.campaign_id)
        .where(campaign_links.c.kind == "paper", campaigns.c.issue_date.in_(list(issue_dates)))
        .group_by(campaign_links.c.key)
    )
    with engine.connect() as conn:
        return {f"https://arxiv.org/abs/{key}": int(n)
                for key, n in conn.execute(query).all() if key and n}
