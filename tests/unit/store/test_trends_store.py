"""The trends by day: departures by reason, and finished days counted only once."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import delete
from support.clock import FakeClock

from newsletter.store.db import Database, open_database, upgrade
from newsletter.store.subscribers import SubscriberStore
from newsletter.store.tables import subscriber_events
from newsletter.store.trends import TrendStore


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    if not database_url.startswith("sqlite"):
        upgrade(database_url)
    opened = open_database(database_url)
    yield opened
    opened.close()


def test_days_by_reason_and_finished_days_kept(db: Database) -> None:
    clock = FakeClock()
    first = clock().date()
    people = SubscriberStore(db, clock)
    added = [people.add(f"r{n}@example.com", source="web", status="pending") for n in range(5)]
    for reader in added[:4]:
        people.set_status(reader.id, "active", "confirmed by email link")
    clock.advance(days=1)
    people.set_status(added[0].id, "unsubscribed", "one-click (RFC 8058)")
    people.set_status(added[1].id, "unsubscribed", "inactive: no open or click in 3 issues")
    people.set_status(added[2].id, "bounced", "Permanent/General")
    clock.advance(days=2)
    trends = TrendStore(db, clock)

    days = trends.trends(first, clock().date()).days

    assert [(d.signups, d.confirmations, d.net) for d in days] == [
        (5, 4, 4), (0, 0, -3), (0, 0, 0), (0, 0, 0)]
    second = days[1]
    assert (second.left_reader, second.left_inactive, second.left_bounce) == (1, 1, 1)
    assert days[0].confirmation_rate == 0.8
    with db.engine.begin() as conn:  # the history changes under the kept days
        conn.execute(delete(subscriber_events))
    people.add("today@example.com", source="web", status="pending")
    again = trends.trends(first, clock().date()).days
    assert [d.signups for d in again] == [5, 0, 0, 1]  # kept days read back, today counted
