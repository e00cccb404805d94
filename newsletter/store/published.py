"""Which issues went out: the dates of campaigns that sent something. Read-only.

The public archive shows an issue once its campaign has really sent it; a campaign that
was only enqueued (a snapshot, nothing sent yet) does not count.
"""

from __future__ import annotations

from sqlalchemy import Engine, exists, or_, select

from newsletter.store.tables import campaigns, deliveries


def sent_issue_dates(engine: Engine) -> frozenset[str]:
    """``YYYY-MM-DD`` of every campaign that is done or has at least one delivery sent."""
    some_sent = exists().where(
        deliveries.c.campaign_id == campaigns.c.id, deliveries.c.status == "sent"
    )
    query = select(campaigns.c.issue_date).where(or_(campaigns.c.status == "done", some_sent))
    with engine.connect() as conn:
        return frozenset(str(date) for date in conn.execute(query).scalars().all())
