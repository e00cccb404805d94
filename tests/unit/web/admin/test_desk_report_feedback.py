"""The campaign page's papers table counts readers' "More like this" and "Not for me"
(issue 21's feedback, in issue 17's report)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.delivery import ISSUE_CATEGORIES, subscribe
from support.desk import DeskSite, desk_site

from newsletter.feedback.ses_events import event_from
from newsletter.model.campaigns import DeliveryResult
from newsletter.settings import get_settings
from newsletter.store.campaigns import CampaignStore
from newsletter.store.db import Database
from newsletter.store.events import EventStore, Received
from newsletter.store.paper_feedback import PaperFeedbackStore

SES_EVENTS = Path(__file__).resolve().parents[3] / "fixtures" / "ses"
SAMPLE = Path(__file__).resolve().parents[4] / "issues" / "2022-09-07.yaml"
PAPER = "2209.01234"


@pytest.fixture
def desk(db: Database, tmp_path: Path) -> Iterator[DeskSite]:
    with desk_site(get_settings(), db, tmp_path / "outbox") as site:
        yield site


def test_the_papers_table_and_csv_count_feedback(desk: DeskSite) -> None:
    subscribe(desk.db.url, 4)
    store = CampaignStore(desk.db, desk.clock)
    campaign, _ = store.start("2022-09-07", str(SAMPLE), ISSUE_CATEGORIES)
    claims = store.claim(campaign.id, "w", 4)
    store.record("w", [DeliveryResult(c.id, "sent", f"m{c.id}") for c in claims])
    delivered = []
    for claim in claims:
        data = json.loads((SES_EVENTS / "event_delivery.json").read_text("utf-8"))
        data["mail"]["tags"]["nl_delivery"] = [str(claim.id)]
        delivered.append(Received(event_from(data)))
    EventStore(desk.db, clock=desk.clock).apply(delivered)
    feedback = PaperFeedbackStore(desk.db)
    for claim, kind in zip(claims, ("more", "more", "less"), strict=False):
        feedback.record(campaign.id, claim.subscriber_id, PAPER, kind)
    desk.sign_in()

    page = desk.client.get(f"/admin/campaigns/{campaign.id}")

    assert page.status_code == 200
    table = page.text.split("<caption>Papers:")[1].split("</table>")[0]
    assert "<th scope=\"col\">More like this</th><th scope=\"col\">Not for me</th>" in table
    row = re.search(rf'<a href="https://arxiv.org/abs/{PAPER}">.*?</tr>', table)
    assert row is not None
    assert row.group(0).endswith('<td class="num">2</td><td class="num">1</td></tr>')
    papers = desk.client.get(f"/admin/campaigns/{campaign.id}/report.csv?what=papers").text
    assert f"2022-09-07,paper,{PAPER}," in papers
    line = next(x for x in papers.splitlines() if f",paper,{PAPER}," in x)
    assert line.endswith(",0,0,2,1")  # no clicks, no readers who clicked; 2 more, 1 less
