"""What readers did through the links of an issue: unsubscribe, preferences, keep.

A reader's links carry a signed token naming them and the moment it was signed, which is
when their message was built (``sending/messages.py``): just after their delivery was
claimed. The delivery a link came from is therefore that reader's delivery claimed last at
or before the token's time. Only the few campaigns started before it are looked at, each
through the (subscriber, campaign) index, so finding it costs the same at any size.

:func:`record_action` writes the row inside the caller's transaction: the subscriber store
calls it with the unsubscribe or preference change it attributes, so both happen or
neither does.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from sqlalchemy import Connection, insert, select

from newsletter.clock import utc_now
from newsletter.model.engagement import LinkAction
from newsletter.store.base import Store
from newsletter.store.db import Database
from newsletter.store.tables import campaigns, deliveries
from newsletter.store.tables_activity import reader_actions

# A token is signed after its delivery is claimed; allow for clocks a little apart.
CLAIM_SLACK = dt.timedelta(seconds=2)
# Campaigns started before the token looked at, newest first (a resumed one may be older).
CANDIDATES = 5


class ReaderActions(Store):
    """The ``reader_actions`` table: one row per action taken through an issue's link."""

    def __init__(self, db: Database, clock: Callable[[], dt.datetime] = utc_now) -> None:
        super().__init__(db)
        self.clock = clock

    def record(self, subscriber_id: int, issued: dt.datetime, action: str) -> int | None:
        """Record ``action`` by the reader, attributed to the delivery whose link they used;
        the campaign's id, or None when the link came from no delivery (a test send, a
        confirmation email, a page)."""
        with self.engine.begin() as conn:
            return record_action(conn, subscriber_id, LinkAction(issued, action), self.clock())

    def delivery_for(self, subscriber_id: int, issued: dt.datetime) -> tuple[int, int] | None:
        """(delivery id, campaign id) of the message a link signed at ``issued`` was in."""
        with self.engine.connect() as conn:
            return _delivery(conn, subscriber_id, issued)


def record_action(conn: Connection, subscriber_id: int, done: LinkAction,
                  now: dt.datetime) -> int | None:
    """Write ``done`` in ``conn``'s transaction, attributed to the delivery whose link was
    used; the campaign's id, or None when the link came from no delivery."""
    found = _delivery(conn, subscriber_id, done.issued)
    conn.execute(insert(reader_actions).values(
        campaign_id=found[1] if found else None, delivery_id=found[0] if found else None,
        subscriber_id=subscriber_id, action=done.action, at=now,
    ))
    return found[1] if found else None


def _delivery(conn: Connection, subscriber_id: int,
              issued: dt.datetime) -> tuple[int, int] | None:
    latest = issued + CLAIM_SLACK
    started = select(campaigns.c.id).where(campaigns.c.created_at <= latest).order_by(
        campaigns.c.id.desc()).limit(CANDIDATES).scalar_subquery()
    d = deliveries.c
    row = conn.execute(
        select(d.id, d.campaign_id)
        .where(d.campaign_id.in_(started), d.subscriber_id == subscriber_id,
               d.claimed_at.is_not(None), d.claimed_at <= latest)
        .order_by(d.claimed_at.desc()).limit(1)
    ).first()
    return (int(row[0]), int(row[1])) if row else None
