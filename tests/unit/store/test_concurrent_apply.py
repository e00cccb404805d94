"""Two appliers (two ``events poll`` processes' worth) given the same events at once, on
PostgreSQL: each event is stored and rolled up by exactly one of them."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from support.delivery import ISSUE_CATEGORIES, subscribe

from newsletter.feedback.ses_events import event_from
from newsletter.model.campaigns import DeliveryResult
from newsletter.reports.campaign import campaign_report
from newsletter.store.campaigns import CampaignStore
from newsletter.store.db import Database, open_database
from newsletter.store.events import EventStore, Received
from newsletter.store.reports import ReportStore
from newsletter.store.tables import deliveries, ses_events

SAMPLE = Path(__file__).resolve().parents[3] / "issues" / "2022-09-07.yaml"
IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
          "(KHTML, like Gecko) Mobile/15E148")
NOW = dt.datetime(2022, 9, 7, 6, 0, tzinfo=dt.UTC)


def ses(kind: str, delivery_id: int, second: int, **part: Any) -> Received:
    at = (NOW + dt.timedelta(seconds=second)).isoformat().replace("+00:00", "Z")
    data = {"eventType": kind.capitalize(),
            "mail": {"timestamp": "2022-09-07T06:00:00.000Z", "messageId": f"m{delivery_id}",
                     "destination": [f"r{delivery_id}@example.org"],
                     "tags": {"nl_delivery": [str(delivery_id)]}},
            kind: {"timestamp": at, **part}}
    return Received(event_from(data))


def sent(db: Database, readers: int) -> list[int]:
    subscribe(db.url, readers + 1)  # the fourth reader's choices get no issue
    store = CampaignStore(db, lambda: NOW)
    started, _ = store.start("2022-09-07", str(SAMPLE), ISSUE_CATEGORIES)
    claims = store.claim(started.id, "w", readers)
    assert len(claims) == readers
    store.record("w", [DeliveryResult(c.id, "sent", provider_id=f"m{c.id}") for c in claims])
    return [c.id for c in claims]


@pytest.mark.slow
def test_the_same_events_applied_at_once_by_two_appliers_count_once(
    migrated_postgres_url: str,
) -> None:
    db = open_database(migrated_postgres_url)
    try:
        ids = sent(db, 6)
        rounds = [
            [ses("delivery", i, 10 * k) for i in ids]
            + [ses("open", i, 10 * k + 200, userAgent=IPHONE) for i in ids]
            + [ses("click", i, 10 * k + 300, userAgent=IPHONE,
                   link=f"https://arxiv.org/abs/2209.0{1000 + (i + k) % 3}") for i in ids]
            for k in range(12)
        ]
        stores = [EventStore(db, clock=lambda: NOW) for _ in range(2)]
        together = threading.Barrier(2, timeout=30)
        fates: list[list[list[str]]] = [[], []]
        errors: list[BaseException] = []

        def work(n: int) -> None:
            try:
                for batch in rounds:
                    together.wait()
                    # The second applier has them in the other order: the locks are
                    # taken in key and id order all the same.
                    mine = batch if n == 0 else batch[::-1]
                    got = stores[n].apply(mine).fates
                    fates[n].append(got if n == 0 else got[::-1])
            except BaseException as err:  # reported below
                errors.append(err)

        threads = [threading.Thread(target=work, args=(n,)) for n in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        for first, second in zip(fates[0], fates[1], strict=True):
            assert sorted(zip(first, second, strict=True)) == sorted(
                ("stored", "duplicate") if a == "stored" else ("duplicate", "stored")
                for a in first)
        with db.engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(ses_events)).scalar_one() \
                == sum(map(len, rounds))
            opens, clicks = conn.execute(
                select(func.sum(deliveries.c.opens), func.sum(deliveries.c.clicks))).one()
        assert (opens, clicks) == (6 * 12, 6 * 12)
        campaign = CampaignStore(db).get("2022-09-07")
        assert campaign is not None
        report = campaign_report("2022-09-07", CampaignStore(db), ReportStore(db), SAMPLE.parent)
        assert (report.totals.delivered, report.totals.opened_unique,
                report.totals.clicked_unique, report.totals.clicks_total) == (6, 6, 6, 72)
        links = ReportStore(db).links(campaign.id)
        assert sorted((link.key, link.clicks, link.readers) for link in links) == [
            ("2209.01000", 24, 6), ("2209.01001", 24, 6), ("2209.01002", 24, 6)]
    finally:
        db.close()
