"""An issue's figures from the rolled-up counters: a handful of small, indexed queries.

Recipients and sent come from the deliveries' (campaign, status, variant) index, read
index-only on PostgreSQL; delivered, bounced, complained, opens and clicks from
``campaign_counts``; papers and links from ``campaign_links``; unsubscribes and preference
changes from ``reader_actions`` (distinct readers); readers' feedback on each paper from
``paper_feedback`` (``store/paper_feedback.py``). No query reads ``ses_events``.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import func, select

from newsletter.model.reports import Counts, LinkRow
from newsletter.store.base import Store
from newsletter.store.paper_feedback import PaperFeedbackStore
from newsletter.store.tables import deliveries
from newsletter.store.tables_activity import campaign_counts, campaign_links, reader_actions

_COUNTED = ("delivered", "bounced", "complained", "opened_unique", "opened_machine",
            "clicked_unique", "clicks_total")


class ReportStore(Store):
    """Reads what ``store/rollup.py`` and ``store/actions.py`` wrote."""

    def counts(self, campaign_id: int) -> dict[str, Counts]:
        """Per variant key, the campaign's figures."""
        figures: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        d, c, a = deliveries.c, campaign_counts.c, reader_actions.c
        with self.engine.connect() as conn:
            for variant, status, n in conn.execute(
                select(d.variant, d.status, func.count())
                .where(d.campaign_id == campaign_id).group_by(d.variant, d.status)
            ):
                figures[str(variant)]["recipients"] += int(n)
                if status == "sent":
                    figures[str(variant)]["sent"] += int(n)
            for row in conn.execute(
                select(c.variant, *(c[name] for name in _COUNTED)).where(
                    c.campaign_id == campaign_id)
            ):
                for name, value in zip(_COUNTED, row[1:], strict=True):
                    figures[str(row[0])][name] += int(value)
            for variant, action, n in conn.execute(
                select(d.variant, a.action, func.count(func.distinct(a.subscriber_id)))
                .select_from(reader_actions.join(deliveries, d.id == a.delivery_id))
                .where(a.campaign_id == campaign_id,
                       a.action.in_(("unsubscribe", "preferences")))
                .group_by(d.variant, a.action)
            ):
                name = "unsubscribed" if action == "unsubscribe" else "preferences_changed"
                figures[str(variant)][name] += int(n)
        return {variant: Counts(**values) for variant, values in figures.items()}

    def links(self, campaign_id: int) -> list[LinkRow]:
        """Every link clicked in the campaign's messages, most readers first."""
        c = campaign_links.c
        with self.engine.connect() as conn:
            rows: Any = conn.execute(
                select(c.kind, c.key, c.clicks, c.readers)
                .where(c.campaign_id == campaign_id)
                .order_by(c.readers.desc(), c.clicks.desc(), c.key)
            ).all()
        return [LinkRow(str(k), str(key), int(n), int(r)) for k, key, n, r in rows]

    def feedback(self, campaign_id: int) -> dict[str, dict[str, int]]:
        """Per paper: readers who pressed "More like this" (``more``) and "Not for me"
        (``less``)."""
        return PaperFeedbackStore(self.db).counts(campaign_id)
