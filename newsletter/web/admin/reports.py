"""``/admin/trends`` and a campaign's report as CSV (issue 17); the campaign page shows
the report itself (``campaigns.py`` asks :func:`report_for`)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from newsletter.errors import CampaignError
from newsletter.model.campaigns import Campaign
from newsletter.model.reports import CampaignReport
from newsletter.reports.campaign import campaign_report, counts_csv, papers_csv
from newsletter.store.reports import ReportStore
from newsletter.store.trends import TrendStore
from newsletter.web.admin.campaigns import duration
from newsletter.web.admin.parts import Desk
from newsletter.web.security import PRIVATE

DAYS = (30, 90, 365)


def report_for(desk: Desk, campaign: Campaign) -> CampaignReport | None:
    """The campaign's report, or None if there is no campaign of its date any more."""
    try:
        return campaign_report(campaign.issue_date, desk.campaigns.store,
                               ReportStore(desk.campaigns.store.db), desk.site.issues_dir)
    except CampaignError:
        return None


def routes(desk: Desk) -> list[BaseRoute]:
    store = desk.campaigns.store

    def trends(days: int) -> dict[str, Any]:
        until = desk.clock().astimezone(dt.UTC).date()
        found = TrendStore(store.db, desk.clock).trends(until - dt.timedelta(days=days - 1), until)
        growth = [(d.day, d.confirmations + d.added, d.left) for d in found.days]
        return {
            "trends": found, "growth": growth,
            "growth_top": max([1, *(g[1] for g in growth), *(g[2] for g in growth)]),
            "rates": [(c.issue, c.bounce_rate or 0.0, c.complaint_rate or 0.0)
                      for c in found.campaigns],
        }

    async def trends_page(request: Request) -> Response:
        asked = request.query_params.get("days", "90")
        days = int(asked) if asked.isdigit() and int(asked) in DAYS else 90
        context = await run_in_threadpool(trends, days)
        return desk.render(request, "trends", {"page_title": "Trends", "section": "trends",
                                               "days": days, "zone": desk.site.zone,
                                               "duration": duration, **context})

    def csv_of(campaign_id: int, papers: bool) -> tuple[str, str] | None:
        campaign = store.by_id(campaign_id)
        report = report_for(desk, campaign) if campaign else None
        if report is None:
            return None
        return report.issue, papers_csv(report) if papers else counts_csv(report)

    async def report_csv(request: Request) -> Response:
        papers = request.query_params.get("what") == "papers"
        found = await run_in_threadpool(csv_of, request.path_params["campaign_id"], papers)
        if found is None:
            return desk.render(request, "campaign_missing", {
                "page_title": "No such campaign", "section": "campaigns",
                "campaign_id": request.path_params["campaign_id"]}, 404)
        issue, text = found
        name = f"report-{issue}{'-papers' if papers else ''}.csv"
        return Response(text, media_type="text/csv; charset=utf-8", headers={
            **PRIVATE, "Content-Disposition": f'attachment; filename="{name}"'})

    return [
        Route("/trends", trends_page, methods=["GET"]),
        Route("/campaigns/{campaign_id:int}/report.csv", report_csv, methods=["GET"]),
    ]
