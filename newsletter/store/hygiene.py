"""List hygiene's queries: stale pending sign-ups, and readers who no longer read.

A pending sign-up older than the cutoff is deleted outright (its address was never
confirmed, so it is kept nowhere, not even as a suppression: its owner may sign up
again). The sunset rule looks at the last N campaigns: an active reader who was sent
every one of them, and for none of them opened (even through a proxy) or clicked, is
*inactive*. Inactive readers are asked once (``reengagements``); one who does not press
"Keep me subscribed" within the grace period is unsubscribed with reason "inactive".
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, insert, select, update

from newsletter.clock import utc_now
from newsletter.store.base import Store
from newsletter.store.rows import record_event
from newsletter.store.tables import campaigns, deliveries, subscribers
from newsletter.store.tables_activity import campaign_counts, reengagements


@dataclass(frozen=True)
class Reader:
    id: int
    email: str


class HygieneStore(Store):
    def __init__(self, db: Any, clock: Callable[[], dt.datetime] = utc_now) -> None:
        super().__init__(db)
        self.clock = clock

    # -- pending sign-ups --------------------------------------------------------------

    def stale_pending(self, before: dt.datetime) -> list[Reader]:
        s = subscribers.c
        with self.engine.connect() as conn:
            rows: Any = conn.execute(
                select(s.id, s.email).where(s.status == "pending", s.created_at < before,
                                            func.coalesce(s.confirmation_sent_at,
                                                          s.created_at) < before)
                .order_by(s.id)).all()
        return [Reader(int(i), str(e)) for i, e in rows]

    def remove_pending(self, readers: list[Reader], before: dt.datetime) -> int:
        """Delete these sign-ups if they are still pending and stale; how many were."""
        s = subscribers.c
        done = 0
        now = self.clock()
        with self.engine.begin() as conn:
            for reader in readers:
                still = conn.execute(select(s.id).where(
                    s.id == reader.id, s.status == "pending", s.created_at < before,
                    func.coalesce(s.confirmation_sent_at, s.created_at) < before,
                ).with_for_update()).first()
                if still is None:
                    continue  # confirmed (or asked again) since the list was made
                record_event(conn, reader.id, "removed", "pending", None,
                             "unconfirmed sign-up removed (list hygiene)", now)
                conn.execute(delete(subscribers).where(s.id == reader.id))
                done += 1
        return done

    # -- the sunset rule ---------------------------------------------------------------

    def last_campaigns(self, count: int) -> list[tuple[int, str, dt.datetime, int]]:
        """(id, issue date, start, opens and clicks recorded) of the newest ``count``
        finished campaigns, newest first."""
        c, n = campaigns.c, campaign_counts.c
        tracked = func.coalesce(func.sum(n.opens_total + n.clicks_total), 0)
        with self.engine.connect() as conn:
            rows: Any = conn.execute(
                select(c.id, c.issue_date, c.created_at, tracked)
                .select_from(campaigns.outerjoin(campaign_counts, n.campaign_id == c.id))
                .where(c.status == "done")
                .group_by(c.id, c.issue_date, c.created_at)
                .order_by(c.id.desc()).limit(count)).all()
        return [(int(i), str(d), at, int(t)) for i, d, at, t in rows]

    def inactive(self, campaign_ids: list[int], since: dt.datetime) -> list[Reader]:
        """Active readers sent every one of these campaigns who neither opened nor clicked
        any, never asked yet or who kept on before ``since``."""
        d, s, r = deliveries.c, subscribers.c, reengagements.c
        signs = (func.count(d.opened_at) + func.count(d.machine_opened_at)
                 + func.count(d.clicked_at))
        query = (
            select(s.id, s.email)
            .select_from(deliveries.join(subscribers, s.id == d.subscriber_id)
                         .outerjoin(reengagements, r.subscriber_id == s.id))
            .where(d.campaign_id.in_(campaign_ids), d.status == "sent", s.status == "active",
                   (r.subscriber_id.is_(None)) | (r.kept_at < since))
            .group_by(s.id, s.email)
            .having(func.count(d.id) == len(campaign_ids), signs == 0)
            .order_by(s.id)
        )
        with self.engine.connect() as conn:
            rows: Any = conn.execute(query).all()
        return [Reader(int(i), str(e)) for i, e in rows]

    def asked(self, reader: Reader) -> None:
        """Record that ``reader`` was sent the re-engagement email now."""
        now = self.clock()
        with self.engine.begin() as conn:
            conn.execute(delete(reengagements).where(
                reengagements.c.subscriber_id == reader.id))
            conn.execute(insert(reengagements).values(subscriber_id=reader.id, asked_at=now))

    def unanswered(self, before: dt.datetime) -> list[Reader]:
        """Active readers asked before ``before`` who did not press the button."""
        r, s = reengagements.c, subscribers.c
        with self.engine.connect() as conn:
            rows: Any = conn.execute(
                select(s.id, s.email).select_from(reengagements.join(
                    subscribers, s.id == r.subscriber_id))
                .where(r.kept_at.is_(None), r.asked_at < before, s.status == "active")
                .order_by(s.id)).all()
        return [Reader(int(i), str(e)) for i, e in rows]

    def keep(self, subscriber_id: int) -> bool:
        """The reader pressed "Keep me subscribed": whether they had been asked."""
        with self.engine.begin() as conn:
            return bool(conn.execute(
                update(reengagements).where(reengagements.c.subscriber_id == subscriber_id)
                .values(kept_at=self.clock())).rowcount)
