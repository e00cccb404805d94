"""The campaign store on SQLite and on a real PostgreSQL: snapshot, claim, record, recover."""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter

import pytest
from support.clock import FakeClock
from support.delivery import ISSUE_CATEGORIES, Reader, subscribe

from newsletter.store.campaigns import CampaignStore, DeliveryResult
from newsletter.store.db import Database
from newsletter.store.subscribers import SubscriberStore
from newsletter.store.workers import WorkerRegistry
from newsletter.vocabulary import Variant

DATE = "2022-09-07"


def started(db: Database, readers: int = 70, clock: FakeClock | None = None) -> tuple[
    CampaignStore, list[Reader], int
]:
    url = db.url
    people = subscribe(url, readers)
    store = CampaignStore(db, clock or FakeClock())
    campaign, created = store.start(DATE, "issues/2022-09-07.yaml", ISSUE_CATEGORIES)
    assert created
    return store, people, campaign.id


@pytest.mark.slow
def test_snapshot_queues_matching_active_unsuppressed_subscribers(db: Database) -> None:
    """Everyone active whose preferences match gets one queued delivery with the right variant."""
    url = db.url
    people = subscribe(url, 70)
    subscribers = SubscriberStore(db)
    subscribers.add("pending@example.com", status="pending")
    subscribers.suppress(people[0].email, "bounced")
    gone = subscribers.find(people[1].email)
    assert gone is not None
    subscribers.set_status(gone.id, "unsubscribed", "test")
    store = CampaignStore(db, FakeClock())

    campaign, created = store.start(DATE, "issues/2022-09-07.yaml", ISSUE_CATEGORIES)

    assert created and campaign.status == "sending"
    expected = {
        (r.id, r.email, r.expected_variant) for r in people[2:] if r.expects_issue
    }
    from support.delivery import delivery_rows

    rows = delivery_rows(url)
    assert {(r["subscriber_id"], r["email"], r["variant"]) for r in rows} == expected
    assert all(r["status"] == "queued" for r in rows)
    assert campaign.total == len(expected) == store.counts(campaign.id).queued
    # Every key the SQL built is one the renderer understands.
    assert all(Variant.from_key(str(r["variant"])).key == r["variant"] for r in rows)
    assert store.variant_counts(ISSUE_CATEGORIES) == dict(
        Counter(v for _, _, v in expected)
    )


def test_starting_again_continues_the_same_campaign_without_a_new_snapshot(
    db: Database,
) -> None:
    """A second start returns the campaign; later subscribers are not added to it."""
    store, people, campaign_id = started(db)
    url = db.url
    subscribe(url, 7, prefix="late")
    again, created = store.start(DATE, "elsewhere.yaml", ISSUE_CATEGORIES)
    assert not created and again.id == campaign_id
    assert store.counts(campaign_id).total == sum(r.expects_issue for r in people)


@pytest.mark.slow
def test_concurrent_claims_never_share_a_delivery(db: Database) -> None:
    """Eight threads claiming batches at once get disjoint sets covering everything."""
    store, _, campaign_id = started(db, 140)
    total = store.counts(campaign_id).queued
    got: list[list[int]] = []
    lock = threading.Lock()

    def claimer(n: int) -> None:
        while batch := store.claim(campaign_id, f"worker-{n}", 7):
            with lock:
                got.append([c.id for c in batch])

    threads = [threading.Thread(target=claimer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    claimed = [i for batch in got for i in batch]
    assert len(claimed) == len(set(claimed)) == total
    assert all(batch == sorted(batch) for batch in got)
    assert store.counts(campaign_id).sending == total


def test_claims_respect_pause_and_deferral(db: Database) -> None:
    """A paused campaign yields nothing; a deferred delivery waits for its time."""
    clock = FakeClock()
    store, _, campaign_id = started(db, 14, clock)
    first = store.claim(campaign_id, "w", 1)[0]
    later = clock.now + dt.timedelta(minutes=5)
    store.record("w", [DeliveryResult(first.id, "queued", error="deferred", not_before=later)])
    assert store.counts(campaign_id).deferred == 1
    store.pause(campaign_id, "SendingPausedException")
    assert store.claim(campaign_id, "w", 100) == []
    paused = store.by_id(campaign_id)
    assert paused is not None and paused.paused_reason == "SendingPausedException"
    store.set_status(campaign_id, "sending")
    claimed = store.claim(campaign_id, "w", 100)
    assert first.id not in {c.id for c in claimed}
    clock.now = later
    assert [c.id for c in store.claim(campaign_id, "w", 100)] == [first.id]


def test_record_writes_outcomes_and_finishes_the_campaign(db: Database) -> None:
    """sent, failed and in-doubt outcomes land; the campaign is done when none are open."""
    store, _, campaign_id = started(db, 7)
    claims = store.claim(campaign_id, "w", 100)
    assert len(claims) >= 3
    assert not store.finish_if_complete(campaign_id)
    results = [DeliveryResult(c.id, "sent", provider_id=f"ses-{c.id}") for c in claims[2:]]
    results += [
        DeliveryResult(claims[0].id, "failed", error="MessageRejected"),
        DeliveryResult(claims[1].id, "in_doubt", error="read timeout"),
    ]
    store.record("w", results)
    counts = store.counts(campaign_id)
    assert (counts.sent, counts.failed, counts.in_doubt, counts.open) == (len(claims) - 2, 1, 1, 0)
    assert store.in_doubt(campaign_id) == [(claims[1].id, claims[1].email, "read timeout")]
    assert store.finish_if_complete(campaign_id)
    done = store.by_id(campaign_id)
    assert done is not None and done.status == "done" and done.finished_at is not None


def test_another_workers_rows_are_not_overwritten_except_by_sent(db: Database) -> None:
    """A worker cannot fail or release rows it does not hold, but "sent" always lands."""
    store, _, campaign_id = started(db, 7)
    claim = store.claim(campaign_id, "a", 1)[0]
    store.record("b", [DeliveryResult(claim.id, "queued")])
    assert store.counts(campaign_id).sending == 1
    store.recover(campaign_id, [], "skip")  # "a" is dead: its claim is in doubt
    store.record("a", [DeliveryResult(claim.id, "sent", provider_id="late")])
    assert store.counts(campaign_id).sent == 1


@pytest.mark.parametrize("policy", ["skip", "resend"])
def test_recover_settles_claims_of_dead_workers_only(db: Database, policy: str) -> None:
    """Dead workers' in-flight rows go in doubt (skip) or back to the queue (resend)."""
    store, _, campaign_id = started(db, 14)
    dead = store.claim(campaign_id, "dead", 3)
    alive = store.claim(campaign_id, "alive", 2)
    moved = store.recover(campaign_id, ["alive"], policy)  # type: ignore[arg-type]
    counts = store.counts(campaign_id)
    assert moved == len(dead)
    assert counts.sending == len(alive)
    if policy == "skip":
        assert counts.in_doubt == len(dead)
        assert [i for i, _, _ in store.in_doubt(campaign_id)] == [c.id for c in dead]
    else:
        assert counts.in_doubt == 0
        assert {c.id for c in store.claim(campaign_id, "next", 3)} == {c.id for c in dead}


def test_workers_are_dead_after_the_lease_or_when_their_process_is_gone(db: Database) -> None:
    """Live workers are counted for the rate share; stale or vanished ones are removed."""
    clock = FakeClock()
    running = {101: True, 102: True}
    registry = WorkerRegistry(db, clock, host="here", alive=lambda pid: running.get(pid, False))
    other_host = WorkerRegistry(db, clock, host="there", alive=lambda pid: False)
    a, b = registry.register(101), registry.register(102)
    c = other_host.register(7)
    assert registry.heartbeat(a, 1) == 1
    assert registry.heartbeat(b, 1) == 2
    assert other_host.heartbeat(c, None) == 2  # idle workers do not take a share
    assert registry.live() == {a, b, c}  # another host's pid is not checked here
    running[102] = False
    assert registry.live() == {a, c}
    clock.now += dt.timedelta(seconds=20)
    registry.heartbeat(a, 1)
    clock.now += dt.timedelta(seconds=20)
    assert registry.live() == {a}
