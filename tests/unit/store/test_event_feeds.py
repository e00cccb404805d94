"""Issue 25, item 2, in the store: the feeds' heartbeats and watermarks, and reconcile
resending an in-doubt delivery only when a live feed is current past it (SQLite and
PostgreSQL)."""

from __future__ import annotations

import datetime as dt

import pytest
from support.delivery import ISSUE_CATEGORIES, subscribe

from newsletter.store.campaigns import CampaignStore
from newsletter.store.db import Database
from newsletter.store.feeds import STALE_AFTER, FeedStore
from newsletter.store.reconcile import reconcile, recover

NOW = dt.datetime(2022, 9, 7, 6, 0, tzinfo=dt.UTC)
AFTER = dt.timedelta(seconds=900)


def in_doubt(db: Database) -> tuple[CampaignStore, int]:
    """A campaign with one delivery left in doubt, claimed at NOW, that no event names."""
    subscribe(db.url, 7)
    store = CampaignStore(db, lambda: NOW)
    campaign, _ = store.start("2022-09-07", "issues/2022-09-07.yaml", ISSUE_CATEGORIES)
    store.claim(campaign.id, "gone", 1)
    recover(db.engine, campaign.id, [], "reconcile")
    assert store.counts(campaign.id).in_doubt == 1
    return store, campaign.id


def beat(db: Database, at: dt.datetime, name: str = "events poll q", *,
         current_to: dt.datetime | None, covers_from: dt.datetime | None = None) -> None:
    FeedStore(db, lambda: at).beat(name, covers_from=covers_from, current_to=current_to)


def test_a_watermark_only_moves_forward(db: Database) -> None:
    """A later beat with an older watermark (another poller of the queue) keeps the newer."""
    beat(db, NOW, current_to=NOW)
    beat(db, NOW + dt.timedelta(seconds=5), current_to=NOW - dt.timedelta(hours=1))
    beat(db, NOW + dt.timedelta(seconds=9), current_to=None)
    (feed,) = FeedStore(db).all()
    assert feed.current_to == NOW and feed.heartbeat_at == NOW + dt.timedelta(seconds=9)


@pytest.mark.slow
def test_without_a_current_feed_an_old_in_doubt_delivery_waits_and_says_why(
    db: Database,
) -> None:
    """No feed, a stale one, a live one behind the claim: kept in doubt each time, with
    the reason; a live one current past claim + after: queued again."""
    store, cid = in_doubt(db)
    later = NOW + AFTER + dt.timedelta(minutes=5)

    none = reconcile(db.engine, cid, later, AFTER)
    assert (none.requeued, none.waiting) == (0, 1)
    assert "no SES event feed has reported" in none.why

    beat(db, later - STALE_AFTER - dt.timedelta(seconds=1), "events poll old",
         current_to=later)  # stale: that poller stopped
    stale = reconcile(db.engine, cid, later, AFTER)
    assert (stale.requeued, stale.waiting) == (0, 1) and "no SES event feed is running" in stale.why

    beat(db, later, current_to=NOW + dt.timedelta(minutes=1))  # live, but behind
    behind = reconcile(db.engine, cid, later, AFTER)
    assert (behind.requeued, behind.waiting) == (0, 1) and "caught up only to" in behind.why
    assert store.counts(cid).in_doubt == 1

    beat(db, later, current_to=later)
    current = reconcile(db.engine, cid, later, AFTER)
    assert (current.requeued, current.waiting, current.why) == (1, 0, "")
    assert store.counts(cid).queued >= 1 and store.counts(cid).in_doubt == 0


def test_a_webhook_started_after_the_claim_does_not_vouch_for_it(db: Database) -> None:
    """The webhook receives only what SNS pushes while it runs: a `serve` started after the
    claim cannot say that no event came for it."""
    _, cid = in_doubt(db)
    later = NOW + AFTER + dt.timedelta(minutes=5)
    beat(db, later, "webhook host:1", current_to=later, covers_from=NOW + dt.timedelta(seconds=1))
    assert reconcile(db.engine, cid, later, AFTER).requeued == 0
    beat(db, later, "webhook host:2", current_to=later, covers_from=NOW - dt.timedelta(seconds=1))
    assert reconcile(db.engine, cid, later, AFTER).requeued == 1
