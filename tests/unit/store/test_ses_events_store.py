"""SES events applied to the store on SQLite and PostgreSQL: once, matched, with effects."""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from support.delivery import ISSUE_CATEGORIES, subscribe

from newsletter.feedback.ses_events import event_from
from newsletter.model.campaigns import DeliveryResult
from newsletter.model.events import SesEvent
from newsletter.store.campaigns import CampaignStore
from newsletter.store.db import Database
from newsletter.store.events import EventStore, HealthLimits, Received
from newsletter.store.feeds import FeedStore
from newsletter.store.reconcile import reconcile, recover, requeue_failed
from newsletter.store.subscribers import SubscriberStore
from newsletter.store.tables import ses_events

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "ses"
NOW = dt.datetime(2022, 9, 7, 6, 0, tzinfo=dt.UTC)
DATE = "2022-09-07"


def campaign(db: Database, readers: int = 20) -> tuple[CampaignStore, int]:
    subscribe(db.url, readers)
    store = CampaignStore(db, lambda: NOW)
    started, _ = store.start(DATE, "issues/2022-09-07.yaml", ISSUE_CATEGORIES)
    return store, started.id


def event(kind: str, delivery_id: int | None, email: str, *, via: str = "tag",
          message_id: str = "m", bounce_type: str = "Permanent", n: int = 0) -> SesEvent:
    """A documented SES example made to be about one of our deliveries."""
    data: dict[str, Any] = json.loads((FIXTURES / f"event_{kind}.json").read_text("utf-8"))
    data = copy.deepcopy(data)
    mail = data["mail"]
    mail["messageId"] = message_id
    mail["destination"] = [email]
    if via == "tag":
        mail["tags"]["nl_delivery"] = [str(delivery_id)]
    elif via == "header":
        mail["headers"].append({"name": "X-Newsletter-Delivery", "value": f"1.{delivery_id}"})
    if kind == "bounce":
        data["bounce"]["bouncedRecipients"][0]["emailAddress"] = email
        data["bounce"]["bounceType"] = bounce_type
        data["bounce"]["timestamp"] = (NOW - dt.timedelta(days=n)).isoformat()
    if kind == "complaint":
        data["complaint"]["complainedRecipients"][0]["emailAddress"] = email
    return event_from(data)


def test_the_same_event_twice_changes_nothing(db: Database) -> None:
    """An event applied again (the webhook and the queue both delivered it) is a duplicate."""
    store, cid = campaign(db)
    first = store.claim(cid, "w", 1)[0]
    events = EventStore(db, clock=lambda: NOW)
    bounce = event("bounce", first.id, first.email)
    assert events.apply([Received(bounce, "sns-1")]).stored == 1
    again = events.apply([Received(bounce, "sns-2"), Received(bounce)])
    assert (again.stored, again.duplicates, again.suppressed) == (0, 2, 0)
    assert again.fates == ["duplicate", "duplicate"]
    replay = events.apply([Received(bounce, "sns-1"), Received(event("send", first.id,
                                                                     first.email), "sns-1")])
    assert (replay.stored, replay.replayed, replay.fates) == (0, 2, ["replayed", "replayed"])
    with db.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(ses_events)).scalar_one() == 1


@pytest.mark.parametrize("via", ["tag", "header", "message_id"])
def test_events_find_their_delivery_and_settle_an_in_doubt_one(db: Database, via: str) -> None:
    """A Send event names the delivery by tag, header or SES id; in doubt becomes sent."""
    store, cid = campaign(db)
    claims = store.claim(cid, "gone", 2)
    store.record("gone", [DeliveryResult(claims[1].id, "sent", provider_id="ses-2")])
    recover(db.engine, cid, [], "reconcile")
    assert store.counts(cid).in_doubt == 1
    target = claims[0] if via != "message_id" else claims[1]
    result = EventStore(db, clock=lambda: NOW).apply([Received(event(
        "send", target.id, target.email, via=via,
        message_id="ses-2" if via == "message_id" else "ses-new"))])
    assert result.unmatched == 0
    with db.engine.connect() as conn:
        assert conn.execute(select(ses_events.c.delivery_id)).scalar_one() == target.id
    assert store.counts(cid).in_doubt == (0 if via != "message_id" else 1)
    assert result.confirmed == (1 if via != "message_id" else 0)


def test_reconcile_sends_unconfirmed_in_doubt_back_to_the_queue_after_the_wait(
    db: Database,
) -> None:
    """In doubt with an event: sent; without one: queued again, but only after ``after``."""
    store, cid = campaign(db)
    named, silent = store.claim(cid, "gone", 2)
    recover(db.engine, cid, [], "reconcile")
    with db.engine.begin() as conn:  # the event arrived before reconcile ran (e.g. by SQS)
        conn.execute(ses_events.insert().values(
            event_key="k", kind="delivery", delivery_id=named.id, campaign_id=cid, email="",
            bounce_type="", machine=0, detail="", received_at=NOW, payload="{}"))
    early = reconcile(db.engine, cid, NOW + dt.timedelta(seconds=10), dt.timedelta(seconds=900))
    assert (early.confirmed, early.requeued) == (1, 0)
    # An event feed that is running and has received everything up to now (issue 25).
    later = NOW + dt.timedelta(seconds=901)
    FeedStore(db, lambda: later).beat("events poll q", covers_from=None, current_to=later)
    late = reconcile(db.engine, cid, NOW + dt.timedelta(seconds=901), dt.timedelta(seconds=900))
    assert (late.confirmed, late.requeued) == (0, 1)
    counts = store.counts(cid)
    assert (counts.in_doubt, counts.sent) == (0, 1)
    assert store.claim(cid, "w", 1)[0].id == silent.id


def test_bounces_complaints_and_rejects_have_their_effects(db: Database) -> None:
    """Hard bounce: bounced; complaint: complained; both suppressed. Reject: that one failed."""
    store, cid = campaign(db)
    a, b, c = store.claim(cid, "w", 3)
    store.record("w", [DeliveryResult(x.id, "sent", provider_id=f"p{x.id}") for x in (a, b, c)])
    result = EventStore(db, clock=lambda: NOW).apply([
        Received(event("bounce", a.id, a.email)),
        Received(event("complaint", b.id, b.email)),
        Received(event("reject", c.id, c.email)),
    ])
    assert (result.suppressed, result.rejected) == (2, 1)
    people = SubscriberStore(db)
    assert [people.find(x.email).status for x in (a, b, c)] == [  # type: ignore[union-attr]
        "bounced", "complained", "active"]
    assert people.is_suppressed(a.email) and people.is_suppressed(b.email)
    assert store.counts(cid).failed == 1


@pytest.mark.slow
def test_repeated_soft_bounces_suppress_at_the_limit(db: Database) -> None:
    """Transient bounces suppress only at NEWSLETTER_SOFT_BOUNCE_LIMIT within 30 days."""
    store, cid = campaign(db)
    first = store.claim(cid, "w", 1)[0]
    events = EventStore(db, HealthLimits(soft_bounce_limit=3), clock=lambda: NOW)
    people = SubscriberStore(db)
    old = event("bounce", first.id, first.email, bounce_type="Transient", n=40)
    events.apply([Received(old)])
    for n in (1, 2):
        events.apply([Received(event("bounce", first.id, first.email, bounce_type="Transient",
                                     n=n))])
    assert not people.is_suppressed(first.email)  # the one 40 days ago does not count
    events.apply([Received(event("bounce", first.id, first.email, bounce_type="Transient",
                                 n=3))])
    assert people.is_suppressed(first.email)


@pytest.mark.slow
def test_a_campaign_with_too_many_bounces_pauses_itself(db: Database) -> None:
    """After 500 sends, a bounce rate above the limit pauses the campaign with the reason."""
    store, cid = campaign(db, readers=700)
    claims = store.claim(cid, "w", 520)
    store.record("w", [DeliveryResult(c.id, "sent", provider_id=f"p{c.id}") for c in claims])
    events = EventStore(db, HealthLimits(max_bounce_rate=0.04), clock=lambda: NOW)
    under = [Received(event("bounce", c.id, c.email)) for c in claims[:20]]
    assert events.apply(under).paused == []  # 20 / 520 = 3.8%
    events._checked.clear()  # the once-a-second limit is not under test here
    over = [Received(event("bounce", c.id, c.email)) for c in claims[20:22]]
    paused = events.apply(over).paused
    assert len(paused) == 1 and "bounce rate 4.23%" in paused[0]
    found = store.by_id(cid)
    assert found is not None and found.status == "paused" and "bounce rate" in found.paused_reason
    health = events.health(cid)
    assert (health.sent, health.hard_bounced) == (520, 22)


def test_claims_skip_readers_who_opted_out_after_the_snapshot(db: Database) -> None:
    """Unsubscribed or suppressed since the snapshot: skipped at claim time, never claimed."""
    store, cid = campaign(db, readers=30)
    people = SubscriberStore(db)
    queued = store.claim(cid, "peek", 100)
    store.record("peek", [DeliveryResult(c.id, "queued") for c in queued])
    gone = people.find(queued[0].email)
    assert gone is not None
    people.set_status(gone.id, "unsubscribed", "test")
    people.suppress(queued[1].email, "complained")
    # The first window of two holds only the two who left: the claim must look further,
    # not report the queue as empty.
    first = store.claim(cid, "w", 2)
    assert [c.id for c in first] == [c.id for c in queued[2:4]]
    claimed = first + store.claim(cid, "w", len(queued))
    assert {c.id for c in claimed} == {c.id for c in queued[2:]}
    counts = store.counts(cid)
    assert counts.skipped == 2 and counts.total == len(queued)


def test_requeue_failed_reopens_a_done_campaign(db: Database) -> None:
    """--retry-failed: failed deliveries are queued again and the campaign sends again."""
    store, cid = campaign(db, readers=5)
    claims = store.claim(cid, "w", 100)
    store.record("w", [DeliveryResult(c.id, "failed", error="x") for c in claims])
    assert store.finish_if_complete(cid)
    assert requeue_failed(db.engine, cid) == len(claims)
    found = store.by_id(cid)
    assert found is not None and found.status == "sending"
    assert store.counts(cid).queued == len(claims)


def test_an_event_applied_before_its_delivery_went_in_doubt_still_settles_it(
    db: Database,
) -> None:
    """The Send event arrives while the sender that crashed still shows ``sending``: nothing
    to update then, but once recovery marks it in doubt, reconcile confirms it from the
    stored event rather than queueing it again (no second copy)."""
    store, cid = campaign(db)
    claim = store.claim(cid, "crashed", 1)[0]
    result = EventStore(db, clock=lambda: NOW).apply(
        [Received(event("send", claim.id, claim.email))])
    assert (result.stored, result.confirmed) == (1, 0)
    recover(db.engine, cid, [], "reconcile")
    assert store.counts(cid).in_doubt == 1
    settled = reconcile(db.engine, cid, NOW + dt.timedelta(hours=2), dt.timedelta(seconds=900))
    assert (settled.confirmed, settled.requeued) == (1, 0)
    assert (store.counts(cid).in_doubt, store.counts(cid).sent) == (0, 1)
