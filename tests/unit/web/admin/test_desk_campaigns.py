"""The desk's campaigns: the list, a campaign's live progress, and Pause, Resume, Retry."""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from support.delivery import ISSUE_CATEGORIES, subscribe
from support.desk import EDITOR, DeskSite, desk_site

from newsletter.feedback.ses_events import event_from
from newsletter.model.campaigns import Campaign, DeliveryResult
from newsletter.model.events import SesEvent
from newsletter.settings import get_settings
from newsletter.store.campaigns import CampaignStore
from newsletter.store.db import Database
from newsletter.store.events import EventStore, Received
from newsletter.store.tables import audit_log

DATE = "2022-09-07"
SES_EVENTS = Path(__file__).resolve().parents[3] / "fixtures" / "ses"
ROW = re.compile(r'href="/admin/campaigns/(\d+)">(\d{4}-\d\d-\d\d)</a>')
Outcome = Literal["sent", "failed", "in_doubt", "queued"]


@pytest.fixture
def desk(db: Database, tmp_path: Path) -> Iterator[DeskSite]:
    with desk_site(get_settings(), db, tmp_path / "outbox") as site:
        yield site


def start(desk: DeskSite, date: str = DATE, readers: int = 30) -> tuple[CampaignStore, Campaign]:
    """A campaign for ``date``, its snapshot taken now by the desk's clock."""
    if readers:
        subscribe(desk.db.url, readers, prefix=f"r{date}-")
    store = CampaignStore(desk.db, desk.clock)
    campaign, created = store.start(date, f"issues/{date}.yaml", ISSUE_CATEGORIES)
    assert created
    return store, campaign


def deliver(store: CampaignStore, campaign: Campaign, n: int,
            status: Outcome = "sent") -> list[int]:
    """A worker claims ``n`` deliveries and records ``status`` for each; their ids."""
    claims = store.claim(campaign.id, "w1", n)
    store.record("w1", [
        DeliveryResult(c.id, status, f"m{c.id}" if status == "sent" else None,
                       None if status == "sent" else f"{status} in test")
        for c in claims
    ])
    return [c.id for c in claims]


def zone() -> ZoneInfo:
    """NEWSLETTER_TIMEZONE, the zone the desk shows times in."""
    return ZoneInfo(get_settings().timezone)


def audited(desk: DeskSite) -> list[tuple[str, str, str, str]]:
    with desk.db.engine.connect() as conn:
        rows = conn.execute(select(audit_log).order_by(audit_log.c.id)).all()
    return [(r.actor, r.action, r.target, r.detail) for r in rows
            if r.action not in ("sign-in link sent", "signed in")]


def forms(html: str) -> list[str]:
    """The action paths of the campaign page's POST forms (sign-out left out)."""
    return [a for a in re.findall(r'<form method="post" action="([^"]+)"', html)
            if not a.endswith("/sign-out")]


def test_the_list_shows_every_campaign_newest_first_with_its_figures(desk: DeskSite) -> None:
    """Newest first, with status, sent of total, failed, in doubt, started and finished."""
    old_store, old = start(desk, "2022-09-06")
    deliver(old_store, old, old.total - 3)
    deliver(old_store, old, 2, "failed")
    deliver(old_store, old, 1, "in_doubt")
    desk.clock.advance(hours=1)
    assert old_store.finish_if_complete(old.id)
    desk.clock.advance(hours=23)
    store, new = start(desk, DATE)
    deliver(store, new, 4)
    desk.sign_in()

    page = desk.client.get("/admin/campaigns")

    assert page.status_code == 200
    assert ROW.findall(page.text) == [(str(new.id), DATE), (str(old.id), "2022-09-06")]
    rows = page.text.split("<tr>")
    newest, oldest = rows[2], rows[3]
    assert f"4 of {new.total}" in newest and "sending" in newest and "not yet" in newest
    assert f"{old.total - 3} of {old.total}" in oldest and "done" in oldest
    assert re.findall(r'<td class="num">(\d+)</td>', oldest) == ["2", "1"]
    finished = (desk.clock() - dt.timedelta(hours=23)).astimezone(zone())
    assert f"{finished:%Y-%m-%d %H:%M}</td>" in oldest  # in NEWSLETTER_TIMEZONE
    assert 'aria-current="page">Campaigns<' in page.text


@pytest.mark.slow
def test_the_list_is_paginated(desk: DeskSite) -> None:
    """Fifty campaigns a page, with links to older and newer ones."""
    first = dt.date(2022, 6, 1)
    subscribe(desk.db.url, 3)
    for n in range(53):
        start(desk, (first + dt.timedelta(days=n)).isoformat(), readers=0)
    desk.sign_in()

    one = desk.client.get("/admin/campaigns")
    two = desk.client.get("/admin/campaigns?page=2")

    dates = [d for _, d in ROW.findall(one.text)]
    assert len(dates) == 50 and dates[0] == "2022-07-23" and dates == sorted(dates, reverse=True)
    assert [d for _, d in ROW.findall(two.text)] == ["2022-06-03", "2022-06-02", "2022-06-01"]
    assert 'href="/admin/campaigns?page=2" rel="next"' in one.text and 'rel="prev"' not in one.text
    assert 'href="/admin/campaigns" rel="prev"' in two.text and 'rel="next"' not in two.text
    assert desk.client.get("/admin/campaigns?page=x").text == one.text


def test_progress_shows_rate_and_eta_and_stops_when_the_campaign_is_done(
    desk: DeskSite,
) -> None:
    """The page polls the progress fragment; it shows the last minute's rate and the ETA,
    and carries data-final once the campaign is done."""
    store, campaign = start(desk, readers=70)
    desk.sign_in()
    desk.clock.advance(seconds=80)
    deliver(store, campaign, 6)  # 70 s before we look: not in the last minute
    desk.clock.advance(seconds=50)
    deliver(store, campaign, 12)
    desk.clock.advance(seconds=20)
    left = campaign.total - 18

    page = desk.client.get(f"/admin/campaigns/{campaign.id}")
    fragment = desk.client.get(f"/admin/campaigns/{campaign.id}/progress?shown=sending")

    assert page.status_code == fragment.status_code == 200
    assert (f'data-refresh="/admin/campaigns/{campaign.id}/progress?shown=sending"'
            in page.text)
    assert "<html" not in fragment.text and "data-final" not in fragment.text
    assert fragment.text.strip() in page.text  # the page starts with what it polls
    assert "0.2 per second (12 in the last minute)" in fragment.text
    eta = desk.clock() + dt.timedelta(seconds=left * 5)  # 12 a minute: one each 5 s
    when = eta.astimezone(zone())
    assert f"about {math.ceil(left * 5 / 60)} min, around {when:%Y-%m-%d %H:%M}" in fragment.text
    assert f"Left</th><td class=\"num\">{left}</td>" in fragment.text
    assert "sending" in fragment.text

    while deliver(store, campaign, 20):
        pass
    assert store.finish_if_complete(campaign.id)
    done = desk.client.get(f"/admin/campaigns/{campaign.id}/progress?shown=sending")

    assert "data-final" in done.text and "state-done" in done.text
    assert f"{campaign.total} of {campaign.total}" in done.text
    assert "reload the page" in done.text  # its buttons were for a sending campaign


def test_pause_and_resume_change_the_campaign_and_are_audited(desk: DeskSite) -> None:
    """Pause stores who paused it; the page then offers Resume (the worker sends it), and
    Resume sets it sending again; each is in the audit log, a repeat changes nothing."""
    store, campaign = start(desk)
    token = desk.sign_in()
    page = desk.client.get(f"/admin/campaigns/{campaign.id}")
    assert forms(page.text) == [f"/admin/campaigns/{campaign.id}/pause"]

    paused = desk.client.post(f"/admin/campaigns/{campaign.id}/pause", data={"csrf": token})

    assert paused.status_code == 303
    assert paused.headers["location"] == f"/admin/campaigns/{campaign.id}?note=paused"
    now = store.by_id(campaign.id)
    assert now is not None and now.status == "paused"
    assert now.paused_reason == f"paused from the desk by {EDITOR}"
    page = desk.client.get(paused.headers["location"])
    assert forms(page.text) == [f"/admin/campaigns/{campaign.id}/resume"]
    assert "newsletter worker sends it" in page.text and "Paused." in page.text
    fragment = desk.client.get(f"/admin/campaigns/{campaign.id}/progress")
    assert "data-final" in fragment.text and f"paused from the desk by {EDITOR}" in fragment.text

    resumed = desk.client.post(f"/admin/campaigns/{campaign.id}/resume", data={"csrf": token})
    again = desk.client.post(f"/admin/campaigns/{campaign.id}/resume", data={"csrf": token})

    assert resumed.headers["location"] == f"/admin/campaigns/{campaign.id}?note=resumed"
    assert again.headers["location"] == f"/admin/campaigns/{campaign.id}?note=unchanged"
    now = store.by_id(campaign.id)
    assert now is not None and (now.status, now.paused_reason) == ("sending", "")
    target = f"campaign {campaign.id} ({DATE})"
    assert audited(desk) == [
        (EDITOR, "paused campaign", target, "was sending"),
        (EDITOR, "resumed campaign", target, "was paused"),
    ]


def test_a_post_without_the_csrf_token_does_not_pause(desk: DeskSite) -> None:
    """Without the token the guard refuses the POST and the campaign keeps sending."""
    store, campaign = start(desk)
    desk.sign_in()
    refused = desk.client.post(f"/admin/campaigns/{campaign.id}/pause", data={})
    assert refused.status_code == 403
    now = store.by_id(campaign.id)
    assert now is not None and now.status == "sending"


def test_retry_failed_queues_them_again_and_reopens_a_done_campaign(desk: DeskSite) -> None:
    """Retry failed moves failed deliveries back to the queue, reopens the campaign, and
    is audited with how many; the button shows only while some delivery failed."""
    store, campaign = start(desk)
    failed = deliver(store, campaign, 3, "failed")
    while deliver(store, campaign, 20):
        pass
    assert store.finish_if_complete(campaign.id)
    token = desk.sign_in()
    page = desk.client.get(f"/admin/campaigns/{campaign.id}")
    assert forms(page.text) == [f"/admin/campaigns/{campaign.id}/retry"]
    assert 'data-confirm="Queue the 3 failed deliveries again?"' in page.text

    answer = desk.client.post(f"/admin/campaigns/{campaign.id}/retry", data={"csrf": token})

    assert answer.headers["location"] == f"/admin/campaigns/{campaign.id}?note=requeued&n=3"
    counts = store.counts(campaign.id)
    assert (counts.failed, counts.queued) == (0, 3)
    assert [c.id for c in store.claim(campaign.id, "w2", 10)] == failed
    now = store.by_id(campaign.id)
    assert now is not None and now.status == "sending"
    assert audited(desk) == [(EDITOR, "retried failed deliveries",
                              f"campaign {campaign.id} ({DATE})",
                              "3 failed deliveries queued again")]
    page = desk.client.get(answer.headers["location"])
    assert "Failed deliveries queued again: 3." in page.text
    assert forms(page.text) == [f"/admin/campaigns/{campaign.id}/pause"]


def test_a_done_campaign_without_failures_offers_no_action(desk: DeskSite) -> None:
    """Done and nothing failed: no button; a stray Pause changes nothing and is not audited."""
    store, campaign = start(desk)
    while deliver(store, campaign, 20):
        pass
    assert store.finish_if_complete(campaign.id)
    token = desk.sign_in()
    page = desk.client.get(f"/admin/campaigns/{campaign.id}")
    assert forms(page.text) == []
    assert "data-final" in page.text
    stray = desk.client.post(f"/admin/campaigns/{campaign.id}/pause", data={"csrf": token})
    assert stray.headers["location"].endswith("?note=unchanged")
    now = store.by_id(campaign.id)
    assert now is not None and now.status == "done" and audited(desk) == []


def test_the_page_shows_variants_health_and_the_first_fifty_in_doubt(desk: DeskSite) -> None:
    """Per variant sent/left/failed; SES's delivered and bounced counts; the first 50
    in-doubt deliveries of more."""
    store, campaign = start(desk, readers=80)
    doubtful = deliver(store, campaign, 55, "in_doubt")
    sent = deliver(store, campaign, 2)
    events = EventStore(desk.db, clock=desk.clock)
    addresses = {i: e for i, e, _ in store.in_doubt(campaign.id, None)}
    events.apply([Received(ses_event("delivery", sent[0], "a@example.com"))])
    events.apply([Received(ses_event("bounce", sent[1], "b@example.com"))])
    desk.sign_in()

    page = desk.client.get(f"/admin/campaigns/{campaign.id}")

    variants = store.variants(campaign.id)
    for key in variants:
        assert f"<code>{key}</code>" in page.text
    assert len(variants) > 1
    health = page.text.split('id="health-h"')[1].split("</section>")[0]
    assert re.search(r"Delivered</th><td class=\"num\">1</td><td class=\"num\">50\.00%", health)
    assert re.search(r"Bounced, permanent</th><td class=\"num\">1</td>", health)
    doubt = page.text.split('id="doubt-h"')[1]
    shown = [int(i) for i in re.findall(r'<td class="num">(\d+)</td><td class="address">', doubt)]
    assert shown == doubtful[:50]
    assert addresses[doubtful[0]] in doubt and addresses[doubtful[50]] not in doubt
    assert "the first 50 of 55" in doubt


def test_an_unknown_campaign_is_a_404_and_actions_on_it_go_back_to_the_list(
    desk: DeskSite,
) -> None:
    """No such campaign: the page and the fragment are 404, a POST redirects to the list."""
    token = desk.sign_in()
    assert desk.client.get("/admin/campaigns/999").status_code == 404
    assert desk.client.get("/admin/campaigns/999/progress").status_code == 404
    answer = desk.client.post("/admin/campaigns/999/pause", data={"csrf": token})
    assert (answer.status_code, answer.headers["location"]) == (303, "/admin/campaigns")
    assert audited(desk) == []


def ses_event(kind: str, delivery_id: int, address: str) -> SesEvent:
    """SES's documented example of ``kind``, about our delivery ``delivery_id``."""
    data = json.loads((SES_EVENTS / f"event_{kind}.json").read_text("utf-8"))
    data["mail"]["destination"] = [address]
    data["mail"]["messageId"] = f"m{delivery_id}"
    data["mail"]["tags"]["nl_delivery"] = [str(delivery_id)]
    if kind == "bounce":
        data["bounce"]["bouncedRecipients"][0]["emailAddress"] = address
    return event_from(data)
