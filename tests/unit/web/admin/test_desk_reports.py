"""The desk shows what readers did: the campaign page's report with its charts, the report
as CSV, and the trends page."""

from __future__ import annotations

import copy
import csv
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.delivery import ISSUE_CATEGORIES, subscribe
from support.desk import DeskSite, desk_site

from newsletter.feedback.ses_events import event_from
from newsletter.model.campaigns import DeliveryResult
from newsletter.settings import get_settings
from newsletter.store.campaigns import CampaignStore
from newsletter.store.db import Database
from newsletter.store.events import EventStore, Received
from newsletter.store.subscribers import SubscriberStore

SES_EVENTS = Path(__file__).resolve().parents[3] / "fixtures" / "ses"
SAMPLE = Path(__file__).resolve().parents[4] / "issues" / "2022-09-07.yaml"
PAPER = "2209.01234"


@pytest.fixture
def desk(db: Database, tmp_path: Path) -> Iterator[DeskSite]:
    with desk_site(get_settings(), db, tmp_path / "outbox") as site:
        yield site


def ses_event(kind: str, delivery_id: int, **section: Any) -> Received:
    data: dict[str, Any] = copy.deepcopy(json.loads(
        (SES_EVENTS / f"event_{kind}.json").read_text("utf-8")))
    data["mail"]["tags"]["nl_delivery"] = [str(delivery_id)]
    data[kind].update(section)
    return Received(event_from(data))


def sent(desk: DeskSite, readers: int) -> tuple[int, list[int]]:
    subscribe(desk.db.url, readers)
    store = CampaignStore(desk.db, desk.clock)
    campaign, _ = store.start("2022-09-07", str(SAMPLE), ISSUE_CATEGORIES)
    claims = store.claim(campaign.id, "w", readers)
    store.record("w", [DeliveryResult(c.id, "sent", f"m{c.id}") for c in claims])
    return campaign.id, [c.id for c in claims]


def test_the_campaign_page_shows_what_readers_did_with_charts_and_csv(desk: DeskSite) -> None:
    cid, ids = sent(desk, 7)  # six get the issue
    events = EventStore(desk.db, clock=desk.clock, base_url="https://news.example.org")
    events.apply([
        *(ses_event("delivery", i) for i in ids),
        *(ses_event("open", i, timestamp="2030-01-01T00:00:00Z") for i in ids[:3]),
        *(ses_event("click", i, link=f"https://arxiv.org/abs/{PAPER}v1",
                    timestamp=f"2030-01-01T00:00:0{n}Z") for n, i in enumerate(ids[:2])),
    ])
    desk.sign_in()

    page = desk.client.get(f"/admin/campaigns/{cid}")

    assert page.status_code == 200
    section = page.text.split('id="readers-h"')[1].split("</section>")[0]
    assert re.search(r"Opened, by readers</th><td class=\"num\">3</td><td class=\"num\">50\.00%",
                     section)
    assert re.search(r"Clicked</th><td class=\"num\">2</td>", section)
    assert section.count('role="img"') == 2  # the readers' funnel and the papers
    assert f'{PAPER}: 2 readers, 2 clicks' in section
    figures = desk.client.get(f"/admin/campaigns/{cid}/report.csv")
    assert figures.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(figures.text)))
    assert (rows[0]["variant"], rows[0]["opened_unique"], rows[0]["clicks_total"]) == (
        "all", "3", "2")
    papers = desk.client.get(f"/admin/campaigns/{cid}/report.csv?what=papers").text
    assert f"2022-09-07,paper,{PAPER}," in papers
    assert desk.client.get("/admin/campaigns/999/report.csv").status_code == 404


def test_the_trends_page_draws_growth_and_campaign_health(desk: DeskSite) -> None:
    people = SubscriberStore(desk.db, desk.clock)
    joined = [people.add(f"joined{n}@example.com", source="cli", status="active")
              for n in range(3)]
    people.set_status(joined[0].id, "unsubscribed", "unsubscribe page")
    desk.sign_in()

    page = desk.client.get("/admin/trends?days=30")

    assert page.status_code == 200
    assert 'aria-current="page">Trends' in page.text
    assert re.search(r"3 joined, 1 left", page.text)
    day = desk.clock().date().isoformat()
    assert re.search(rf"<th scope=\"row\">{day}</th>(<td class=\"num\">[^<]*</td>){{3}}"
                     r"<td class=\"num\">1</td>", page.text)
