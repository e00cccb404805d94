"""The list's history by day: sign-ups, confirmations, departures by reason, campaigns.

A day's figures come from one grouped query over ``subscriber_events`` (indexed by time).
A day that is over does not change, so its figures are kept in ``trend_days`` the first
time they are counted after that: a trends request counts only the days never counted
before, yesterday and today. The campaigns of the range are read with their counters. Days are UTC.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, Date, and_, case, cast, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.elements import ColumnElement

from newsletter.clock import utc_now
from newsletter.model.reports import CampaignLine, Day, Trends
from newsletter.store.base import Store
from newsletter.store.db import Database
from newsletter.store.tables import campaigns, subscriber_events
from newsletter.store.tables_activity import campaign_counts, trend_days

INACTIVE_REASON = "inactive"  # how the sunset rule's unsubscribes begin their reason
FIGURES = tuple(f.name for f in dataclasses.fields(Day) if f.name != "day")


class TrendStore(Store):
    def __init__(self, db: Database, clock: Callable[[], dt.datetime] = utc_now) -> None:
        super().__init__(db)
        self.clock = clock

    def trends(self, since: dt.date, until: dt.date) -> Trends:
        """Every day from ``since`` to ``until`` (both included), and its campaigns."""
        today = self.clock().astimezone(dt.UTC).date()
        wanted = [since + dt.timedelta(days=i) for i in range((until - since).days + 1)]
        with self.engine.connect() as conn:
            kept = {
                dt.date.fromisoformat(str(row[0])): Day(dt.date.fromisoformat(str(row[0])),
                                                        *map(int, row[1:]))
                for row in conn.execute(
                    select(trend_days.c.day, *(trend_days.c[f] for f in FIGURES)).where(
                        trend_days.c.day >= since.isoformat(),
                        trend_days.c.day <= until.isoformat()))
            }
            missing = [d for d in wanted if d not in kept]
            counted = self._count(conn, missing[0], missing[-1]) if missing else {}
            lines = self._campaigns(conn, since, until)
        fresh = {d: counted.get(d, Day(d)) for d in missing}
        # Kept once a whole day has passed since: a write stamped before midnight may commit
        # a moment after it.
        self._keep([day for d, day in fresh.items() if d < today - dt.timedelta(days=1)])
        days = [kept.get(d) or fresh[d] for d in wanted]
        return Trends(since, until, days, lines)

    def _count(self, conn: Connection, first: dt.date, last: dt.date) -> dict[dt.date, Day]:
        start = dt.datetime.combine(first, dt.time(), dt.UTC)
        end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), dt.UTC)
        e = subscriber_events.c
        day = self._day(e.created_at)
        what = case(
            (e.kind == "created", case((e.new_status == "active", "added"),
                                       else_="signups")),
            (and_(e.new_status == "active", e.old_status != "active"), "confirmations"),
            (and_(e.old_status == "active", e.new_status == "bounced"), "left_bounce"),
            (and_(e.old_status == "active", e.new_status == "complained"), "left_complaint"),
            (and_(e.old_status == "active", e.new_status == "unsubscribed",
                  e.reason.like(f"{INACTIVE_REASON}%")), "left_inactive"),
            (and_(e.old_status == "active", e.new_status == "unsubscribed"), "left_reader"),
            else_="",
        )
        figures: dict[dt.date, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        rows: Any = conn.execute(
            select(day, what, func.count())
            .where(e.created_at >= start, e.created_at < end)
            .group_by(day, what)
        ).all()
        for when, name, count in rows:
            if name:
                figures[_as_date(when)][str(name)] += int(count)
        return {d: Day(d, **values) for d, values in figures.items()}

    def _keep(self, days: list[Day]) -> None:
        """Remember finished days; another request may have done it first (then nothing)."""
        if not days:
            return
        rows = [{"day": d.day.isoformat(), **{f: getattr(d, f) for f in FIGURES}}
                for d in days]
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(trend_days), rows)
        except IntegrityError:
            pass  # counted and kept by a request at the same time: the same figures

    def _campaigns(self, conn: Connection, since: dt.date, until: dt.date) -> list[CampaignLine]:
        start = dt.datetime.combine(since, dt.time(), dt.UTC)
        end = dt.datetime.combine(until + dt.timedelta(days=1), dt.time(), dt.UTC)
        c, n = campaigns.c, campaign_counts.c
        sent: Any = conn.execute(
            select(c.issue_date, c.created_at, c.finished_at,
                   func.coalesce(func.sum(n.delivered), 0),
                   func.coalesce(func.sum(n.bounced), 0),
                   func.coalesce(func.sum(n.complained), 0))
            .select_from(campaigns.outerjoin(campaign_counts, n.campaign_id == c.id))
            .where(c.created_at >= start, c.created_at < end)
            .group_by(c.id, c.issue_date, c.created_at, c.finished_at)
            .order_by(c.created_at)
        ).all()
        return [CampaignLine(str(issue), started, finished, int(d), int(b), int(x))
                for issue, started, finished, d, b, x in sent]

    def _day(self, column: Any) -> ColumnElement[Any]:
        if self.engine.dialect.name == "postgresql":
            return cast(func.timezone("UTC", column), Date)
        return func.date(column)


def _as_date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])
