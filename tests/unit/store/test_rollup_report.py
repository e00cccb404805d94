"""Events rolled up as applied, and the issue's report from the counters (SQLite, PostgreSQL)."""

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
from newsletter.reports.campaign import campaign_report, counts_csv, papers_csv
from newsletter.store.campaigns import CampaignStore
from newsletter.store.db import Database, open_database
from newsletter.store.events import EventStore, Received
from newsletter.store.prune import EventPruner
from newsletter.store.reports import ReportStore
from newsletter.store.tables import deliveries, ses_events

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "ses"
SAMPLE = Path(__file__).resolve().parents[3] / "issues" / "2022-09-07.yaml"
NOW = dt.datetime(2022, 9, 7, 6, 0, tzinfo=dt.UTC)
BASE = "https://news.example.org"


def stamp(seconds: float) -> str:
    return (NOW + dt.timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")


def event(kind: str, delivery_id: int, at: float, **section: Any) -> SesEvent:
    data: dict[str, Any] = copy.deepcopy(json.loads((FIXTURES / f"event_{kind}.json").read_text()))
    data["mail"]["tags"]["nl_delivery"] = [str(delivery_id)]
    data["mail"]["messageId"] = f"m{delivery_id}"
    data[kind]["timestamp"] = stamp(at)
    data[kind].update(section)
    return event_from(data)


def sent_campaign(db: Database, readers: int) -> tuple[int, list[int]]:
    subscribe(db.url, readers + (readers > 3))  # the fourth reader's choices get no issue
    store = CampaignStore(db, lambda: NOW)
    started, _ = store.start("2022-09-07", str(SAMPLE), ISSUE_CATEGORIES)
    claims = store.claim(started.id, "w", readers)
    store.record("w", [DeliveryResult(c.id, "sent", provider_id=f"m{c.id}") for c in claims])
    return started.id, [c.id for c in claims]


IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 " \
         "(KHTML, like Gecko) Mobile/15E148"
APPLE_PROXY = "Mozilla/5.0"


def test_events_roll_up_into_exact_counts_and_paper_rows(db: Database) -> None:
    """Opens by readers and machines apart; clicks per paper whatever the link form; a
    replayed or duplicated event counts once; the report adds titles from the issue."""
    _cid, (a, b, c, d) = sent_campaign(db, 4)
    store = EventStore(db, clock=lambda: NOW, base_url=BASE)
    click_a = event("click", a, 600, link="https://arxiv.org/abs/2209.01234v2")
    batch = [
        *(Received(event("delivery", x, 5)) for x in (a, b, c, d)),
        Received(event("open", a, 300, userAgent=IPHONE)),
        Received(event("open", a, 900, userAgent=IPHONE)),
        Received(event("open", b, 40, userAgent=APPLE_PROXY)),  # proxy, 35 s after delivery
        Received(event("open", c, 5.5, userAgent=IPHONE)),  # half a second: a scanner
        Received(event("open", c, 4000, userAgent=APPLE_PROXY)),  # an hour on: the reader
        Received(click_a, "sns-1"),
        Received(event("click", a, 700, link="https://arxiv.org/pdf/2209.01234v1.pdf")),
        Received(event("click", a, 800, link="http://export.arxiv.org/html/hep-th/9901001v3")),
        Received(event("click", b, 60, link="https://arxiv.org/abs/2209.01234")),
        Received(event("click", d, 60, link=f"{BASE}/preferences/TOKEN")),
        Received(event("click", d, 61, link=f"{BASE}/archive/2022-09-07/")),
    ]
    first = store.apply(batch[:7])
    second = store.apply([*batch[7:], Received(click_a, "sns-1"), Received(click_a, "sns-9")])
    assert (first.stored, second.stored, second.replayed, second.duplicates) == (7, 8, 1, 1)

    report = campaign_report("2022-09-07", CampaignStore(db), ReportStore(db), SAMPLE.parent)
    t = report.totals
    assert (t.recipients, t.sent, t.delivered) == (4, 4, 4)
    assert (t.opened_unique, t.opened_machine) == (2, 1)  # a and c; b by a proxy only
    assert (t.clicked_unique, t.clicks_total) == (3, 6)
    assert (t.bounced, t.complained, t.unsubscribed) == (0, 0, 0)
    top = report.papers[0]
    assert (top.arxiv_id, top.clicks, top.readers) == ("2209.01234", 3, 2)
    old = next(p for p in report.papers if p.arxiv_id == "hep-th/9901001")
    assert (old.clicks, old.readers, old.title) == (1, 1, "")
    assert {(link.kind, link.readers) for link in report.links} == {
        ("preferences", 1), ("archive", 1)}
    assert sum(v.sent for v in report.by_variant.values()) == 4
    data = report.as_json()
    assert list(data) == [
        "issue", "recipients", "sent", "delivered", "bounced", "complained", "opened_unique",
        "opened_machine", "clicked_unique", "clicks_total", "unsubscribed",
        "preferences_changed", "by_variant", "papers"]
    assert data["papers"][0] == {"arxiv_id": "2209.01234", "title": top.title, "clicks": 3,
                                 "readers": 2, "more_like_this": 0, "not_for_me": 0}
    assert counts_csv(report).splitlines()[1].startswith("2022-09-07,all,4,4,4,0,0,2,1,3,6")
    assert "paper,2209.01234" in papers_csv(report)
    with db.engine.connect() as conn:
        payloads = conn.execute(select(ses_events.c.kind, ses_events.c.payload)).all()
        rows = conn.execute(select(func.count()).select_from(deliveries)
                            .where(deliveries.c.delivered_at.is_not(None))).scalar_one()
    assert rows == 4  # each delivery's state is on its own row
    assert all(p == "" for _, p in payloads)  # rolled up: only the row is kept


def test_a_human_open_after_a_machine_one_moves_the_reader_across(db: Database) -> None:
    """Counters follow each delivery's state across batches, never double-counting."""
    cid, (a,) = sent_campaign(db, 1)
    store = EventStore(db, clock=lambda: NOW, base_url=BASE)
    store.apply([Received(event("open", a, 1, userAgent=IPHONE))])  # before any Delivery
    figures = ReportStore(db)
    assert sum(c.opened_machine for c in figures.counts(cid).values()) == 1
    store.apply([Received(event("delivery", a, 0.5))])
    store.apply([Received(event("open", a, 7200, userAgent=IPHONE))])
    total = next(c for c in figures.counts(cid).values() if c.sent)
    assert (total.delivered, total.opened_unique, total.opened_machine) == (1, 1, 0)


def test_prune_keeps_bounces_and_complaints_and_what_is_recent(db: Database) -> None:
    cid, (a, b) = sent_campaign(db, 2)
    old = EventStore(db, clock=lambda: NOW - dt.timedelta(days=40), base_url=BASE)
    old.apply([Received(event("delivery", a, 1)), Received(event("bounce", b, 1)),
               Received(event("complaint", a, 2)), Received(event("open", a, 30))])
    EventStore(db, clock=lambda: NOW, base_url=BASE).apply(
        [Received(event("click", a, 60, link="https://arxiv.org/abs/2209.01234"))])
    pruner = EventPruner(db)
    cutoff = NOW - dt.timedelta(days=30)
    dry = pruner.prune(cutoff, dry_run=True)
    assert (dry.deleted, dry.kept) == (2, 2)
    done = pruner.prune(cutoff, batch=1)
    assert (done.deleted, done.batches) == (2, 2)
    with db.engine.connect() as conn:
        left = dict(conn.execute(select(ses_events.c.kind, ses_events.c.payload)).all())
    assert set(left) == {"bounce", "complaint", "click"}
    assert json.loads(left["bounce"])["eventType"] == "Bounce"
    assert json.loads(left["complaint"])["eventType"] == "Complaint"
    report = ReportStore(db).counts(cid)
    assert sum(c.delivered for c in report.values()) == 1  # the roll-up outlives the rows


@pytest.mark.slow
def test_concurrent_appliers_keep_the_counts_exact(migrated_postgres_url: str) -> None:
    """Two processes' worth of appliers on the same deliveries at once (PostgreSQL): the
    states are locked or their insert conflicts and is run again; nothing is lost or
    counted twice."""
    import threading

    db = open_database(migrated_postgres_url)
    try:
        cid, ids = sent_campaign(db, 3)
        stores = [EventStore(db, clock=lambda: NOW, base_url=BASE) for _ in range(2)]
        errors: list[BaseException] = []
        together = threading.Barrier(2, timeout=30)  # each batch starts at the same time

        def work(n: int) -> None:
            try:
                for k in range(15):
                    together.wait()
                    stores[n].apply([
                        Received(event("open", i, 4000 + 100 * k + n, userAgent=IPHONE))
                        for i in ids
                    ] + [Received(event("click", ids[k % 3], 5000 + 100 * k + n,
                                        link=f"https://arxiv.org/abs/2209.0{1000 + n}"))])
            except BaseException as err:  # reported below
                errors.append(err)

        threads = [threading.Thread(target=work, args=(n,)) for n in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        counts = ReportStore(db).counts(cid)
        assert sum(c.opened_unique for c in counts.values()) == 3
        assert sum(c.clicked_unique for c in counts.values()) == 3
        assert sum(c.clicks_total for c in counts.values()) == 30
        links = ReportStore(db).links(cid)
        assert sorted((link.key, link.clicks, link.readers) for link in links) == [
            ("2209.01000", 15, 3), ("2209.01001", 15, 3)]
        with db.engine.connect() as conn:
            opens = conn.execute(select(func.sum(deliveries.c.opens))).scalar_one()
        assert opens == 2 * 15 * 3
    finally:
        db.close()
