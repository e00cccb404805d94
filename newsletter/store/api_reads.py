"""Keyset pages of campaigns for the REST API (issue 22): newest first, by id."""

from __future__ import annotations

from sqlalchemy import select

from newsletter.model.campaigns import Campaign
from newsletter.store.base import Store
from newsletter.store.campaigns import _campaign
from newsletter.store.tables import campaigns


class CampaignPages(Store):
    def page(self, before: int | None, size: int) -> tuple[list[Campaign], bool]:
        """Up to ``size`` campaigns older than id ``before`` (newest first), and whether
        more follow."""
        query = select(campaigns).order_by(campaigns.c.id.desc()).limit(size + 1)
        if before is not None:
            query = query.where(campaigns.c.id < before)
        with self.engine.connect() as conn:
            rows = [_campaign(row) for row in conn.execute(query)]
        return rows[:size], len(rows) > size
