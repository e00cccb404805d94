"""List hygiene: stale pending sign-ups, and the sunset rule with its "Keep me subscribed"
email and page, always planned (a dry run) before anything is done."""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient
from support.clock import FakeClock
from support.delivery import ISSUE_CATEGORIES, subscribe

from newsletter import wiring
from newsletter.feedback.ses_events import event_from
from newsletter.model.campaigns import DeliveryResult
from newsletter.reports.hygiene import Hygiene, Plan, Rules
from newsletter.settings import get_settings
from newsletter.store.campaigns import CampaignStore
from newsletter.store.db import Database, open_database, upgrade
from newsletter.store.events import EventStore, Received
from newsletter.store.hygiene import HygieneStore
from newsletter.store.subscribers import SubscriberStore
from newsletter.store.trends import TrendStore
from newsletter.transports.outbox import OutboxTransport
from newsletter.web.app import create_app

SAMPLE = Path(__file__).resolve().parents[3] / "issues" / "2022-09-07.yaml"


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    if not database_url.startswith("sqlite"):
        upgrade(database_url)
    opened = open_database(database_url)
    yield opened
    opened.close()


def event(kind: str, delivery_id: int, **section: str) -> Received:
    data = {"eventType": kind.capitalize(), "mail": {
        "messageId": f"m{delivery_id}", "destination": ["x@example.com"],
        "tags": {"nl_delivery": [str(delivery_id)]}},
        kind: {"timestamp": "2022-09-07T12:00:00Z", **section}}
    return Received(event_from(data))


def two_issues(db: Database, clock: FakeClock, readers: int = 8) -> list[str]:
    """Two finished campaigns to ``readers`` readers; reader 0 opened the first, reader 1
    clicked in the second, reader 2 only got a machine open; the addresses, in order."""
    people = [r for r in subscribe(db.url, readers) if r.expects_issue]
    store = CampaignStore(db, clock)
    events = EventStore(db, clock=clock)
    for date in ("2022-09-06", "2022-09-07"):
        campaign, _ = store.start(date, str(SAMPLE), ISSUE_CATEGORIES)
        claims = sorted(store.claim(campaign.id, "w", 100), key=lambda c: c.subscriber_id)
        store.record("w", [DeliveryResult(c.id, "sent", f"m{c.id}") for c in claims])
        assert store.finish_if_complete(campaign.id)
        by_reader = {c.email: c.id for c in claims}
        if date == "2022-09-06":
            events.apply([event("open", by_reader[people[0].email], userAgent="Thunderbird"),
                          event("delivery", by_reader[people[3].email])])
        else:
            events.apply([
                event("click", by_reader[people[1].email], link="https://arxiv.org/abs/2209.01234"),
                event("open", by_reader[people[2].email], userAgent="x", machineOpen="true"),
            ])
        clock.advance(days=1)
    return [p.email for p in people]


def hygiene(db: Database, clock: FakeClock, outbox: Path, rules: Rules) -> Hygiene:
    return wiring.hygiene(get_settings(), db, rules, clock, OutboxTransport(outbox),
                          sending=True)


@pytest.mark.slow
def test_the_sunset_rule_asks_the_inactive_and_unsubscribes_those_who_do_not_stay(
    db: Database, tmp_path: Path
) -> None:
    clock = FakeClock()
    readers = two_issues(db, clock)
    outbox = tmp_path / "outbox"
    rules = Rules(sunset_issues=2, grace_days=14)
    work = hygiene(db, clock, outbox, rules)

    plan = work.plan()  # the dry run changes nothing
    inactive = readers[3:]
    assert [r.email for r in plan.ask] == inactive
    assert (plan.pending, plan.unsubscribe, plan.notes) == ([], [], [])
    assert not outbox.exists()
    assert work.plan().ask == plan.ask

    work.apply(plan)
    mails = {}
    for path in sorted(outbox.glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        mails[str(message["To"])] = message
    assert sorted(mails) == sorted(inactive)
    keeper = mails[inactive[0]]
    assert "List-Unsubscribe=One-Click" in str(keeper["List-Unsubscribe-Post"])
    body = keeper.get_body(("plain",))
    assert body is not None
    keep_path = re.search(r"https://news\.example\.org(/keep/\S+)", body.get_content())
    assert keep_path and "Keep me subscribed" in body.get_content()
    assert work.plan().ask == []  # asked once

    app = create_app(get_settings(), db=db, transport=OutboxTransport(outbox), clock=clock)
    with TestClient(app, base_url="https://news.example.org") as web:
        page = web.get(keep_path.group(1))
        assert page.status_code == 200 and '<form method="post"' in page.text
        assert web.post(keep_path.group(1)).status_code == 200
        assert web.post("/keep/not-a-token").status_code == 400

    clock.advance(days=13)
    assert work.plan().unsubscribe == []  # still within the grace period
    clock.advance(days=2)
    later = work.plan()
    assert [r.email for r in later.unsubscribe] == inactive[1:]  # the keeper stays
    work.apply(later)
    people = SubscriberStore(db)
    statuses = [people.find(a).status for a in readers]  # type: ignore[union-attr]
    assert statuses == ["active"] * 4 + ["unsubscribed"] * (len(readers) - 4)
    day = clock().date()
    trends = TrendStore(db, clock).trends(day, day)
    assert trends.days[0].left_inactive == len(readers) - 4


def test_no_sunset_without_tracking_and_pending_sign_ups_go_after_n_days(
    db: Database, tmp_path: Path
) -> None:
    clock = FakeClock()
    people = SubscriberStore(db, clock)
    stale = people.add("stale@example.com", source="web", status="pending")
    clock.advance(days=20)
    people.add("fresh@example.com", source="web", status="pending")
    store = CampaignStore(db, clock)
    subscribe(db.url, 3)
    campaign, _ = store.start("2022-09-07", str(SAMPLE), ISSUE_CATEGORIES)
    claims = store.claim(campaign.id, "w", 10)
    store.record("w", [DeliveryResult(c.id, "sent", f"m{c.id}") for c in claims])
    store.finish_if_complete(campaign.id)
    clock.advance(days=11)
    work = hygiene(db, clock, tmp_path / "outbox", Rules(pending_days=30, sunset_issues=1))

    plan = work.plan()

    assert [r.email for r in plan.pending] == ["stale@example.com"]
    assert plan.ask == [] and "turn on SES open and click tracking" in plan.notes[0]
    work.apply(plan)
    assert people.get(stale.id) is None and people.find("fresh@example.com") is not None
    assert not people.is_suppressed("stale@example.com")  # may sign up again
    assert HygieneStore(db, clock).stale_pending(clock()) != []  # fresh is pending still
    assert work.apply(Plan()) == Plan()
