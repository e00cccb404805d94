"""The desk's campaign views on SQLite and PostgreSQL: counts, per variant, the last minute."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterator
from typing import Literal

import pytest
from support.clock import FakeClock
from support.delivery import ISSUE_CATEGORIES, subscribe

from newsletter.model.campaigns import Campaign, DeliveryResult
from newsletter.store.campaign_views import CampaignViews
from newsletter.store.campaigns import CampaignStore
from newsletter.store.db import Database, open_database, upgrade
from newsletter.store.tables import deliveries

DATE = "2022-09-07"


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    if not database_url.startswith("sqlite"):
        upgrade(database_url)
    opened = open_database(database_url)
    yield opened
    opened.close()


def started(db: Database, clock: FakeClock, readers: int = 40,
            date: str = DATE) -> tuple[CampaignStore, Campaign]:
    subscribe(db.url, readers, prefix=f"r{date}-")
    store = CampaignStore(db, clock)
    campaign, created = store.start(date, f"issues/{date}.yaml", ISSUE_CATEGORIES)
    assert created
    return store, campaign


Outcome = Literal["sent", "failed", "in_doubt", "queued"]


def send(store: CampaignStore, campaign: Campaign, n: int, status: Outcome = "sent",
         error: str | None = None, not_before: dt.datetime | None = None) -> list[int]:
    """Claim ``n`` deliveries and record them all with ``status``; their ids."""
    claims = store.claim(campaign.id, "w1", n)
    store.record("w1", [
        DeliveryResult(c.id, status, f"m{c.id}" if status == "sent" else None, error, not_before)
        for c in claims
    ])
    return [c.id for c in claims]


@pytest.mark.slow
def test_counts_match_counting_every_state(db: Database) -> None:
    """Counts taken from what is left (sent = total - the rest) equal the full count,
    for several campaigns in one query, deferred deliveries included."""
    clock = FakeClock()
    store, first = started(db, clock)
    send(store, first, 10)
    send(store, first, 3, "failed", error="rejected")
    send(store, first, 2, "in_doubt", error="lost")
    send(store, first, 4, "queued", not_before=clock() + dt.timedelta(minutes=5))
    store.claim(first.id, "w2", 5)  # in flight
    _, second = started(db, clock, 14, "2022-09-08")
    views = CampaignViews(db)

    found = views.counts([first, second], clock())

    assert found == {first.id: store.counts(first.id), second.id: store.counts(second.id)}
    mine = found[first.id]
    assert (mine.sent, mine.failed, mine.in_doubt, mine.deferred, mine.sending) == (
        10, 3, 2, 4, 5)
    assert mine.total == first.total
    assert found[second.id].queued == second.total and found[second.id].sent == 0
    clock.advance(minutes=6)
    assert views.counts([first], clock())[first.id].deferred == 0
    assert views.counts([], clock()) == {}


@pytest.mark.slow
def test_variant_counts_add_up_per_variant(db: Database) -> None:
    """Each variant's sent, left, failed and in-doubt deliveries, in key order; the totals
    are those of the snapshot and stay right as deliveries move on."""
    clock = FakeClock()
    store, campaign = started(db, clock, 70)
    views = CampaignViews(db)
    before = views.variant_counts(campaign)
    sent = set(send(store, campaign, 20))
    failed = set(send(store, campaign, 5, "failed", error="rejected"))

    after = views.variant_counts(campaign)

    with db.engine.connect() as conn:
        rows = conn.execute(deliveries.select().where(
            deliveries.c.campaign_id == campaign.id)).all()
    totals = Counter(r.variant for r in rows)
    assert [v.variant for v in after] == sorted(totals) == [v.variant for v in before]
    for v in after:
        mine = [r for r in rows if r.variant == v.variant]
        assert v.total == totals[v.variant]
        assert v.sent == sum(r.id in sent for r in mine)
        assert v.failed == sum(r.id in failed for r in mine)
        assert v.left == sum(r.status == "queued" for r in mine)
        assert v.in_doubt == 0
    assert sum(v.sent for v in after) == 20 and sum(v.total for v in after) == campaign.total


def test_sent_since_counts_the_last_minute(db: Database) -> None:
    """Deliveries sent at or after a time, found among the newest sent ones; ``capped``
    says the window held only recent sends."""
    clock = FakeClock()
    store, campaign = started(db, clock, 70)
    views = CampaignViews(db)
    assert views.sent_since(campaign.id, clock(), 100).count == 0
    send(store, campaign, 12)
    clock.advance(seconds=90)
    send(store, campaign, 8)
    clock.advance(seconds=30)
    send(store, campaign, 5)
    since = clock() - dt.timedelta(seconds=60)

    recent = views.sent_since(campaign.id, since, 100)

    assert (recent.count, recent.capped) == (13, False)
    assert recent.first == clock() - dt.timedelta(seconds=30)
    narrow = views.sent_since(campaign.id, since, 6)
    assert (narrow.count, narrow.capped) == (6, True)
