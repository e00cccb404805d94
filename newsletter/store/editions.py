"""Readers' own preferences (issue 21): frequency, paper limit, follows, in one table.

A reader without a row has the default (daily, every paper, no follows); saving the
default deletes the row, so the table holds only readers who chose something.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, delete, insert, select

from newsletter.clock import utc_now
from newsletter.errors import UnknownSubscriberError
from newsletter.model.editions import Frequency, ReaderPreferences, parse_follows
from newsletter.store.base import Store
from newsletter.store.db import Database
from newsletter.store.rows import record_event
from newsletter.store.tables import reader_preferences, subscribers

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
