"""``/admin/``: the next scheduled send, the last campaign, readers by status; the audit log."""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from newsletter.vocabulary import SUBSCRIBER_STATUSES
from newsletter.web.admin.parts import Desk

AUDIT_PAGE = 100


def routes(desk: Desk) -> list[BaseRoute]:
    def overview() -> dict[str, Any]:
        campaigns = desk.campaigns.store
        last = campaigns.latest()
        return {
            "schedules": [s for s in desk.store.scheduled() if s.started_at is None][:3],
            "last": last,
            "last_counts": campaigns.counts(last.id) if last else None,
            "last_health": desk.campaigns.events.health(last.id) if last else None,
            "readers": {status: desk.subscribers.count(status) for status in SUBSCRIBER_STATUSES},
            "zone": desk.site.zone,
        }

    async def dashboard(request: Request) -> Response:
        context = await run_in_threadpool(overview)
        return desk.render(request, "dashboard", {"page_title": "Desk", "section": "home",
                                                  **context})

    async def audit(request: Request) -> Response:
        before = request.query_params.get("before", "")
        entries = await run_in_threadpool(
            desk.store.audit_entries, AUDIT_PAGE, int(before) if before.isdigit() else None)
        older = entries[-1].id if len(entries) == AUDIT_PAGE else None
        return desk.render(request, "audit", {"page_title": "Audit log", "section": "audit",
                                              "entries": entries, "older": older,
                                              "zone": desk.site.zone})

    return [
        Route("/", dashboard, methods=["GET"]),
        Route("/audit", audit, methods=["GET"]),
    ]
