"""The list's history by day: sign-ups, confirmations, departures by reason, campaigns.

Two grouped queries over an indexed time range (``subscriber_events.created_at``) and
one over the campaigns started in it with their counters; days are UTC.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from sqlalchemy import Date, and_, case, cast, func, select
from sqlalchemy.sql.elements import ColumnElement

from newsletter.model.reports import CampaignLine, Day, Trends
from newsletter.store.base import Store
from newsletter.store.tables import campaigns, subscriber_events
from newsletter.store.tables_activity import campaign_counts

INACTIVE_REASON = "inactive"  # how the sunset rule's unsubscribes begin their reason


class TrendStore(Store):
    def trends(self, since: dt.date, until: dt.date) -> Trends:
        """Every day from ``since`` to ``until`` (both included), and its campaigns."""
        start = dt.datetime.combine(since, dt.time(), dt.UTC)
        end = dt.datetime.combine(until + dt.timedelta(days=1), dt.time(), dt.UTC)
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
        c, n = campaigns.c, campaign_counts.c
        with self.engine.connect() as conn:
            rows: Any = conn.execute(
                select(day, what, func.count())
                .where(e.created_at >= start, e.created_at < end)
                .group_by(day, what)
            ).all()
            for when, name, count in rows:
                if name:
                    figures[_as_date(when)][str(name)] += int(count)
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
        days = [Day(since + dt.timedelta(days=i), **figures.get(since + dt.timedelta(days=i), {}))
                for i in range((until - since).days + 1)]
        lines = [CampaignLine(str(issue), started, finished, int(d), int(b), int(x))
                 for issue, started, finished, d, b, x in sent]
        return Trends(since, until, days, lines)

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
