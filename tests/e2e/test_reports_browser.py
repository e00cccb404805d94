"""The campaign page's "What readers did" and the Trends page in Chromium, with real data:
axe-core finds nothing serious at 375 and 1280 px in light and dark mode, nothing scrolls
sideways, and the charts are drawn (SVG images with captions)."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

import pytest
from support.axe import AxeUnavailable, axe_source
from support.delivery import ISSUE_CATEGORIES, subscribe
from support.env import SAMPLE_ISSUE
from support.servers import serve

from newsletter.feedback.ses_events import event_from
from newsletter.model.campaigns import DeliveryResult
from newsletter.store.campaigns import CampaignStore
from newsletter.store.db import open_database
from newsletter.store.desk import DeskStore
from newsletter.store.events import EventStore, Received

EDITOR = "editor@example.org"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ses"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def ses_event(kind: str, delivery_id: int, **section: Any) -> Received:
    data: dict[str, Any] = copy.deepcopy(json.loads((FIXTURES / f"event_{kind}.json").read_text()))
    data["mail"]["tags"]["nl_delivery"] = [str(delivery_id)]
    data[kind].update(section)
    return Received(event_from(data))


def seed(url: str) -> tuple[int, str]:
    """A sent campaign whose readers opened and clicked papers; (its id, a desk session)."""
    subscribe(url, 40)
    db = open_database(url)
    try:
        store = CampaignStore(db)
        campaign, _ = store.start("2022-09-07", str(SAMPLE_ISSUE), ISSUE_CATEGORIES)
        claims = store.claim(campaign.id, "w", 100)
        store.record("w", [DeliveryResult(c.id, "sent", f"m{c.id}") for c in claims])
        store.finish_if_complete(campaign.id)
        ids = [c.id for c in claims]
        papers = ["2209.01234", "2209.05678", "2209.01947"]
        EventStore(db).apply([
            *(ses_event("delivery", i) for i in ids[1:]),
            ses_event("bounce", ids[0]),
            *(ses_event("open", i, timestamp="2030-01-01T00:00:00Z") for i in ids[:20]),
            *(ses_event("click", i, timestamp=f"2030-01-01T00:01:{n:02d}Z",
                        link=f"https://arxiv.org/abs/{papers[n % 3]}")
              for n, i in enumerate(ids[:12])),
            ses_event("click", ids[3], link="https://github.com/a/very-long-repository-name"
                      "-that-goes-on/blob/main/src/some/deeply/nested/path/file.py"),
        ])
        return campaign.id, DeskStore(db).new_session(EDITOR)
    finally:
        db.close()


def test_the_report_and_trends_pages_pass_axe_with_charts(
    tmp_path: Path, chromium_path: str
) -> None:
    from playwright.sync_api import sync_playwright

    try:
        axe = axe_source()
    except AxeUnavailable as err:
        pytest.skip(str(err))
    campaign_id, cookie = seed(os.environ["NEWSLETTER_DATABASE_URL"])
    found: list[object] = []
    with serve(tmp_path, tmp_path / "serve.log", NEWSLETTER_EDITORS=EDITOR) as web, \
            sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            context = chromium.new_context(bypass_csp=True)
            context.add_cookies([{"name": "nl_desk", "value": cookie, "url": web.url}])
            page = context.new_page()
            for name, path in (("report", f"/admin/campaigns/{campaign_id}"),
                               ("trends", "/admin/trends?days=30")):
                answer = page.goto(web.url + path)
                assert answer is not None and answer.ok, (name, answer and answer.status)
                charts = page.locator("figure.chart svg[role=img]")
                assert charts.count() >= 2, name
                page.add_script_tag(content=axe)
                for width in (375, 1280):
                    page.set_viewport_size({"width": width, "height": 900})
                    for scheme in ("light", "dark"):
                        page.emulate_media(color_scheme=scheme)
                        result = page.evaluate(
                            "async () => await axe.run(document, {resultTypes: ['violations']})")
                        assert result["passes"], "axe ran no check"
                        found += [(name, width, scheme, v["id"], v["help"])
                                  for v in result["violations"]
                                  if v["impact"] in ("serious", "critical")]
                    sideways = page.evaluate(
                        "document.documentElement.scrollWidth - window.innerWidth")
                    if sideways > 0:
                        found.append((name, width, f"scrolls sideways by {sideways} px"))
            assert "2209.01234" in page.goto(web.url + f"/admin/campaigns/{campaign_id}").text()
        finally:
            chromium.close()
    assert found == []
