"""What the desk shows of campaigns, read cheaply from a campaign of a million deliveries.

The only index on ``deliveries`` that leads with the campaign is
``(campaign_id, status, id)``. So these queries count what is *not* sent (queued, in flight,
failed, in doubt, skipped) and take "sent" as the rest of the campaign's ``total``: a
snapshot writes every delivery row at once and no row is ever added or removed later, so
``total`` is exact. Counting what is left costs nothing for a finished campaign and less
and less as a campaign goes on, where counting every status reads all its rows each time.

A variant's total never changes either (a delivery keeps its variant), so it is counted
once per campaign and kept; what is left of each variant is counted as above.

The sends of the last minute are found from the newest sent deliveries by id (a campaign
is claimed in id order), reading a window of at most ``window`` index entries backwards.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import and_, bindparam, case, func, select

from newsletter.model.campaigns import Campaign, DeliveryCounts
from newsletter.store.base import Store
from newsletter.store.db import Database
from newsletter.store.tables import deliveries

# Every delivery state but "sent".
UNSENT = ("queued", "sending", "failed", "in_doubt", "skipped")
# How many campaigns' variant totals are kept (they never change once counted).
KEPT_TOTALS = 64


@dataclass(frozen=True)
class VariantCounts:
    """One variant's deliveries by state."""

    variant: str
    total: int
    sent: int = 0
    queued: int = 0
    sending: int = 0
    failed: int = 0
    in_doubt: int = 0
    skipped: int = 0

    @property
    def left(self) -> int:
        """Not finished yet (queued or in flight)."""
        return self.queued + self.sending


@dataclass(frozen=True)
class RecentSends:
    """Deliveries sent since a time; ``capped`` when every one of the newest ``window``
    sent deliveries was that recent, so there may have been more (the count is a floor)."""

    count: int
    capped: bool = False
    first: dt.datetime | None = None  # the earliest of them


class CampaignViews(Store):
    """Read-only views of campaigns for the desk, over ``db``."""

    def __init__(self, db: Database) -> None:
        super().__init__(db)
        self._variant_totals: dict[tuple[int, dt.datetime], dict[str, int]] = {}
        self._lock = threading.Lock()

    def counts(self, found: Sequence[Campaign], now: dt.datetime) -> dict[int, DeliveryCounts]:
        """The deliveries of each campaign by state; ``deferred`` are those queued but not
        to be claimed before a time after ``now``."""
        d = deliveries.c
        deferred = func.sum(case((and_(d.status == "queued", d.not_before > now), 1), else_=0))
        # One statement per campaign, not ``campaign_id IN (...)``: while a database holds
        # few campaigns the planner reads the whole table for the IN list; for one campaign
        # it walks the index over what is left of it.
        query = (
            select(d.status, func.count(), deferred)
            .where(d.campaign_id == bindparam("campaign"), d.status.in_(UNSENT))
            .group_by(d.status)
        )
        counted = {}
        with self.engine.connect() as conn:
            for campaign in found:
                states: dict[str, int] = {}
                for status, n, late in conn.execute(query, {"campaign": campaign.id}).all():
                    states[str(status)] = int(n)
                    states["deferred"] = states.get("deferred", 0) + int(late or 0)
                counted[campaign.id] = _counts(campaign.total, states)
        return counted

    def variant_counts(self, campaign: Campaign) -> list[VariantCounts]:
        """The campaign's deliveries by variant and state, in variant key order."""
        totals = self._totals(campaign)
        d = deliveries.c
        query = (
            select(d.variant, d.status, func.count())
            .where(d.campaign_id == campaign.id, d.status.in_(UNSENT))
            .group_by(d.variant, d.status)
        )
        unsent: dict[str, dict[str, int]] = {}
        with self.engine.connect() as conn:
            for variant, status, n in conn.execute(query).all():
                unsent.setdefault(str(variant), {})[str(status)] = int(n)
        found = []
        for key in sorted(totals):
            states = unsent.get(key, {})
            found.append(VariantCounts(
                variant=key,
                total=totals[key],
                sent=max(0, totals[key] - sum(states.values())),
                queued=states.get("queued", 0),
                sending=states.get("sending", 0),
                failed=states.get("failed", 0),
                in_doubt=states.get("in_doubt", 0),
                skipped=states.get("skipped", 0),
            ))
        return found

    def sent_since(self, campaign_id: int, since: dt.datetime, window: int) -> RecentSends:
        """How many deliveries were sent at or after ``since``, among the ``window`` newest
        sent ones (by id; choose it above the most a minute can send)."""
        d = deliveries.c
        newest = (
            select(d.sent_at)
            # A range rather than ``status == "sent"``: with an equality PostgreSQL may walk
            # the primary key backwards through every queued row of a newer id instead of
            # this index; ordered by (status, id), only this index gives the order.
            .where(d.campaign_id == campaign_id, d.status.between("sent", "sent"))
            .order_by(d.status.desc(), d.id.desc())
            .limit(window)
            .subquery()
        )
        query = select(func.count(), func.min(newest.c.sent_at)).where(
            newest.c.sent_at >= since)
        with self.engine.connect() as conn:
            count, first = conn.execute(query).one()
        return RecentSends(count=int(count), capped=int(count) >= window > 0, first=first)

    def _totals(self, campaign: Campaign) -> dict[str, int]:
        key = (campaign.id, campaign.created_at)
        with self._lock:
            kept = self._variant_totals.get(key)
        if kept is not None:
            return kept
        d = deliveries.c
        query = (
            select(d.variant, func.count())
            .where(d.campaign_id == campaign.id)
            .group_by(d.variant)
        )
        with self.engine.connect() as conn:
            totals = {str(v): int(n) for v, n in conn.execute(query).all()}
        with self._lock:
            if len(self._variant_totals) >= KEPT_TOTALS:
                self._variant_totals.pop(next(iter(self._variant_totals)))
            self._variant_totals[key] = totals
        return totals


def _counts(total: int, states: dict[str, int]) -> DeliveryCounts:
    unsent = sum(states.get(status, 0) for status in UNSENT)
    return DeliveryCounts(
        queued=states.get("queued", 0),
        sending=states.get("sending", 0),
        sent=max(0, total - unsent),
        failed=states.get("failed", 0),
        in_doubt=states.get("in_doubt", 0),
        deferred=states.get("deferred", 0),
        skipped=states.get("skipped", 0),
    )
