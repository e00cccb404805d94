"""``/admin/campaigns``: every campaign, and one campaign's progress, health and actions.

A campaign's page polls ``/admin/campaigns/<ID>/progress`` (a fragment: counts, rate over
the last minute, ETA, state) until the campaign is done or paused. ``Pause``, ``Resume``
and ``Retry failed`` change the campaign's row only; ``newsletter worker`` does the sending.
The counts come from :class:`CampaignViews`, which reads what is left rather than every
delivery (see :mod:`newsletter.store.campaign_views`).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from newsletter.model.campaigns import Campaign, DeliveryCounts
from newsletter.store.campaign_views import CampaignViews, RecentSends
from newsletter.web.admin.parts import Desk

PAGE = 50  # campaigns per page of the list
IN_DOUBT_SHOWN = 50
RATE_WINDOW = dt.timedelta(seconds=60)
REFRESH_SECONDS = 3
# Notes shown after an action (``?note=``), by name.
NOTES = {
    "paused": "Paused. Workers stop taking deliveries from it.",
    "resumed": "Resumed: the campaign is sending again; the newsletter worker sends it.",
    "requeued": "Failed deliveries queued again: {n}.",
    "none_requeued": "No failed delivery could be queued again (erased readers stay failed).",
    "unchanged": "Nothing changed: the campaign was not in a state for that.",
}


@dataclass(frozen=True)
class Progress:
    """What the progress fragment shows: counts, the last minute's rate, the ETA, the state."""

    campaign: Campaign
    counts: DeliveryCounts
    recent: RecentSends
    rate: float  # sends per second over the last minute
    eta: dt.datetime | None  # when what is left should be sent, at that rate
    left_seconds: float | None

    @property
    def final(self) -> bool:
        """Nothing will change until someone acts: the page stops polling."""
        return self.campaign.status in ("done", "paused")


def progress_of(campaign: Campaign, counts: DeliveryCounts, recent: RecentSends,
                now: dt.datetime) -> Progress:
    """Rate over the last minute (or since the start, if that was sooner) and the ETA."""
    since_start = (now - campaign.created_at).total_seconds()
    span = max(1.0, min(RATE_WINDOW.total_seconds(), since_start))
    rate = recent.count / span
    eta = left = None
    if campaign.status == "sending" and counts.open and rate > 0:
        left = counts.open / rate
        eta = now + dt.timedelta(seconds=left)
    return Progress(campaign, counts, recent, rate, eta, left)


def duration(seconds: float) -> str:
    """``45 s``, ``12 min``, ``3 h 05 min``, ``2 d 4 h``."""
    whole = max(0, math.ceil(seconds))
    if whole < 60:
        return f"{whole} s"
    minutes = math.ceil(whole / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


def routes(desk: Desk) -> list[BaseRoute]:
    store = desk.campaigns.store
    views = CampaignViews(store.db)
    # The newest sent deliveries the rate looks at: twice what a minute can send.
    window = max(1_000, math.ceil(desk.campaigns.config.max_send_rate * 120))

    def listing(page: int) -> dict[str, Any]:
        found = store.recent(PAGE + 1, (page - 1) * PAGE)
        shown = found[:PAGE]
        return {"campaigns": shown, "counts": views.counts(shown, desk.clock()),
                "page": page, "older": len(found) > PAGE}

    def progress(campaign_id: int) -> Progress | None:
        campaign = store.by_id(campaign_id)
        if campaign is None:
            return None
        now = desk.clock()
        counts = views.counts([campaign], now)[campaign.id]
        recent = views.sent_since(campaign.id, now - RATE_WINDOW, window)
        return progress_of(campaign, counts, recent, now)

    def details(campaign_id: int) -> dict[str, Any] | None:
        from newsletter.web.admin.reports import report_for  # it uses ``duration`` above

        shown = progress(campaign_id)
        if shown is None:
            return None
        campaign = shown.campaign
        return {
            "progress": shown,
            "variants": views.variant_counts(campaign),
            "health": desk.campaigns.events.health(campaign.id),
            "in_doubt": store.in_doubt(campaign.id, IN_DOUBT_SHOWN),
            "report": report_for(desk, campaign),  # what readers did (issue 17)
        }

    async def campaigns_page(request: Request) -> Response:
        asked = request.query_params.get("page", "1")
        page = int(asked) if asked.isdigit() and 0 < int(asked) < 1_000_000 else 1
        context = await run_in_threadpool(listing, page)
        return desk.render(request, "campaigns", {
            "page_title": "Campaigns" if page == 1 else f"Campaigns, page {page}",
            "section": "campaigns", "zone": desk.site.zone, **context})

    async def campaign_page(request: Request) -> Response:
        campaign_id = request.path_params["campaign_id"]
        context = await run_in_threadpool(details, campaign_id)
        if context is None:
            return missing(request, campaign_id)
        note = request.query_params.get("note", "")
        count = request.query_params.get("n", "")
        shown = context["progress"].campaign
        return desk.render(request, "campaign", {
            "page_title": f"Campaign {shown.issue_date}", "section": "campaigns",
            "zone": desk.site.zone, "note": NOTES.get(note, "").format(
                n=int(count) if count.isdigit() else 0),
            "refresh_every": REFRESH_SECONDS, "duration": duration, **context})

    async def progress_fragment(request: Request) -> Response:
        campaign_id = request.path_params["campaign_id"]
        shown = await run_in_threadpool(progress, campaign_id)
        if shown is None:
            return missing(request, campaign_id)
        # The state the page was loaded in: when it changed, the fragment says to reload.
        loaded = request.query_params.get("shown", "")
        if loaded not in ("sending", "paused", "done"):
            loaded = shown.campaign.status
        return desk.render(request, "campaign_progress", {
            "progress": shown, "zone": desk.site.zone, "duration": duration, "shown": loaded})

    def missing(request: Request, campaign_id: int) -> Response:
        return desk.render(request, "campaign_missing", {
            "page_title": "No such campaign", "section": "campaigns",
            "campaign_id": campaign_id}, 404)

    def act(campaign_id: int, action: str, editor: str) -> tuple[Campaign | None, str, int]:
        """Do ``action`` if the campaign's state allows it: (campaign, note, how many)."""
        campaign = store.by_id(campaign_id)
        if campaign is None:
            return None, "", 0
        if action == "pause" and campaign.status == "sending":
            store.pause(campaign.id, f"paused from the desk by {editor}")
            return campaign, "paused", 0
        if action == "resume" and campaign.status == "paused":
            store.resume(campaign.id)
            return campaign, "resumed", 0
        if action == "retry":
            moved = store.requeue_failed(campaign.id)
            return campaign, "requeued" if moved else "none_requeued", moved
        return campaign, "unchanged", 0

    def action(name: str, wording: str) -> Callable[[Request], Awaitable[Response]]:
        async def handler(request: Request) -> Response:
            campaign_id = request.path_params["campaign_id"]
            editor = str(request.state.editor)
            campaign, note, count = await run_in_threadpool(act, campaign_id, name, editor)
            if campaign is None:
                return desk.back(request, "/campaigns")
            if note in ("paused", "resumed", "requeued"):
                detail = (f"{count} failed deliveries queued again" if name == "retry"
                          else f"was {campaign.status}")
                await run_in_threadpool(desk.audit, request, wording,
                                        f"campaign {campaign.id} ({campaign.issue_date})", detail)
            query = {"note": note, **({"n": str(count)} if name == "retry" else {})}
            return desk.back(request, f"/campaigns/{campaign.id}", **query)

        return handler

    return [
        Route("/campaigns", campaigns_page, methods=["GET"]),
        Route("/campaigns/{campaign_id:int}", campaign_page, methods=["GET"]),
        Route("/campaigns/{campaign_id:int}/progress", progress_fragment, methods=["GET"]),
        Route("/campaigns/{campaign_id:int}/pause", action("pause", "paused campaign"),
              methods=["POST"]),
        Route("/campaigns/{campaign_id:int}/resume", action("resume", "resumed campaign"),
              methods=["POST"]),
        Route("/campaigns/{campaign_id:int}/retry", action("retry", "retried failed deliveries"),
              methods=["POST"]),
    ]
