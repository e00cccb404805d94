"""``/admin/``: the next scheduled send, the last campaign, readers by status; the audit log."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from newsletter.store.readers import ReaderQueries
from newsletter.vocabulary import SUBSCRIBER_STATUSES
from newsletter.web.admin.parts import Desk

AUDIT_PAGE = 100
# Seconds the overview's counts may be old (a million readers take a while to count).
FIGURES_MAX_AGE = 30.0
GROWTH_DAYS = 30
HEALTH_CAMPAIGNS = 10  # the newest campaigns whose bounce and complaint rates are drawn


class Figures:
    """The dashboard's costly figures (readers by status, the last campaign's counts and
    health: scans of up to millions of rows), kept for ``max_age`` seconds.

    A request never waits for a recount once there are figures: when they are older than
    ``max_age`` the stale ones are shown and one background thread counts afresh. Only the
    very first request counts while it waits.
    """

    def __init__(self, count: Callable[[], dict[str, Any]], max_age: float = FIGURES_MAX_AGE,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.count = count
        self.max_age = max_age
        self.clock = clock
        self._lock = threading.Lock()
        self._value: tuple[float, dict[str, Any]] | None = None
        self._refreshing = False

    def get(self) -> dict[str, Any]:
        with self._lock:
            value = self._value
            stale = value is None or self.clock() - value[0] > self.max_age
            start = stale and value is not None and not self._refreshing
            if start:
                self._refreshing = True
        if value is None:
            return self._refresh()
        if start:
            threading.Thread(target=self._refresh, name="desk-figures", daemon=True).start()
        return value[1]

    def _refresh(self) -> dict[str, Any]:
        try:
            fresh = self.count()
            with self._lock:
                self._value = (self.clock(), fresh)
            return fresh
        finally:
            with self._lock:
                self._refreshing = False


def routes(desk: Desk) -> list[BaseRoute]:
    def count() -> dict[str, Any]:
        campaigns = desk.campaigns.store
        last = campaigns.latest()
        today = desk.clock().astimezone(dt.UTC).date()
        days = [today - dt.timedelta(days=n) for n in range(GROWTH_DAYS - 1, -1, -1)]
        since = dt.datetime.combine(days[0], dt.time(), dt.UTC)
        joined, left = ReaderQueries(desk.subscribers.db).growth(since)
        recent = list(reversed(campaigns.recent(HEALTH_CAMPAIGNS)))
        healths = [(c.issue_date, desk.campaigns.events.health(c.id)) for c in recent]
        return {
            "growth": [(day, joined.get(day, 0), left.get(day, 0)) for day in days],
            "growth_top": max([1, *joined.values(), *left.values()]),
            "health_rates": [
                (date, h.rate(h.hard_bounced + h.soft_bounced), h.rate(h.complained))
                for date, h in healths
            ],
            "last": last,
            "last_counts": campaigns.counts(last.id) if last else None,
            "last_health": desk.campaigns.events.health(last.id) if last else None,
            "readers": {status: desk.subscribers.count(status) for status in SUBSCRIBER_STATUSES},
            "counted_at": desk.clock(),
        }

    figures = Figures(count)

    def overview() -> dict[str, Any]:
        return {
            "schedules": [s for s in desk.store.scheduled() if s.started_at is None][:3],
            **figures.get(),
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
