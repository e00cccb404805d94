"""The event feeds' heartbeats and watermarks (``event_feeds``): is SES's news current?

``reconcile`` (``store.reconcile``) resends an in-doubt delivery only when a feed that beat
recently has received every event published until ``RECONCILE_AFTER`` past its claim; see
the table's comment in ``store.tables``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, case, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from newsletter.clock import utc_now
from newsletter.store.base import Store
from newsletter.store.db import Database
from newsletter.store.tables_activity import event_feeds

# A feed that has not beaten for this long is not believed to be running.
STALE_AFTER = dt.timedelta(seconds=90)


@dataclass(frozen=True)
class Feed:
    name: str
    covers_from: dt.datetime | None
    current_to: dt.datetime | None
    heartbeat_at: dt.datetime

    def live(self, now: dt.datetime) -> bool:
        return self.heartbeat_at >= now - STALE_AFTER


def feeds(conn: Connection) -> list[Feed]:
    """Every feed that ever beat, by name."""
    rows = conn.execute(select(event_feeds).order_by(event_feeds.c.name))
    return [Feed(str(r.name), r.covers_from, r.current_to, r.heartbeat_at) for r in rows]


class FeedStore(Store):
    """Heartbeats of event consumers; ``clock`` gives aware UTC times."""

    def __init__(self, db: Database, clock: Callable[[], dt.datetime] = utc_now) -> None:
        super().__init__(db)
        self.clock = clock

    def beat(self, name: str, *, covers_from: dt.datetime | None,
             current_to: dt.datetime | None) -> None:
        """Record that ``name`` runs; its watermark only ever moves forward."""
        f = event_feeds.c
        values: dict[str, Any] = {"heartbeat_at": self.clock(), "covers_from": covers_from}
        if current_to is not None:
            values["current_to"] = case(
                (or_(f.current_to.is_(None), f.current_to < current_to), current_to),
                else_=f.current_to)
        # Writes only, the update first: on SQLite a transaction that reads before it writes
        # fails at once when another process wrote meanwhile.
        with self.engine.begin() as conn:
            if conn.execute(update(event_feeds).where(f.name == name).values(**values)).rowcount:
                return
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(event_feeds).values(
                    name=name, heartbeat_at=values["heartbeat_at"], covers_from=covers_from,
                    current_to=current_to))
        except IntegrityError:  # another process of the same name came first
            with self.engine.begin() as conn:
                conn.execute(update(event_feeds).where(f.name == name).values(**values))

    def all(self) -> list[Feed]:
        with self.engine.connect() as conn:
            return feeds(conn)
