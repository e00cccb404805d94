"""Campaigns and their deliveries: snapshot, claim, record. The SQL of sending, no sending.

A campaign is one issue sent to the subscribers active when it started. Its recipients
are snapshotted once, in one transaction, into ``deliveries``; every later run works
through that table. A delivery moves

    queued -> skipped (the reader opted out after the snapshot; ``store.claims``)
    queued -> sending (claimed, committed before the message is handed over)
           -> sent (with the provider's id) | failed (permanent, with the reason)
           | in_doubt (the sender died while it was in flight, or the answer was lost)

and a ``sending`` row goes back to ``queued`` only when the worker holding it knows it was
not sent (transient failures, a pause, a clean stop). Claiming and recording live in
``store.claims``; settling in-doubt and failed rows in ``store.reconcile``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from sqlalchemy import (
    and_,
    case,
    exists,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from newsletter.clock import utc_now
from newsletter.model.campaigns import (
    Campaign,
    CampaignStatus,
    Claim,
    DeliveryCounts,
    DeliveryResult,
)
from newsletter.model.editions import Follow
from newsletter.store import claims, reconcile
from newsletter.store.audience import count_left_out, recipients_select
from newsletter.store.base import Store
from newsletter.store.db import Database
from newsletter.store.editions import (
    clicks_by_link,
    deliveries_by_variant,
    follows_of_campaign,
    waiting_readers,
)
from newsletter.store.published import sent_issue_dates
from newsletter.store.tables import campaigns, deliveries, subscribers
from newsletter.store.webhook_outbox import campaign_event
from newsletter.vocabulary import InDoubtPolicy


class CampaignStore(Store):
    """Campaign rows and their deliveries on ``engine``; ``clock`` gives aware UTC times."""

    def __init__(self, db: Database, clock: Callable[[], dt.datetime] = utc_now) -> None:
        super().__init__(db)
        self.clock = clock

    # -- campaigns -------------------------------------------------------------------

    def get(self, issue_date: str) -> Campaign | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(campaigns).where(campaigns.c.issue_date == issue_date)
            ).first()
        return _campaign(row) if row else None

    def by_id(self, campaign_id: int) -> Campaign | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(campaigns).where(campaigns.c.id == campaign_id)).first()
        return _campaign(row) if row else None

    def recent(self, limit: int = 50, offset: int = 0) -> list[Campaign]:
        """Campaigns, newest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(campaigns).order_by(campaigns.c.id.desc()).limit(limit).offset(offset)
            ).all()
        return [_campaign(row) for row in rows]

    def latest(self) -> Campaign | None:
        """The newest campaign, if any."""
        found = self.recent(1)
        return found[0] if found else None

    def sending(self) -> list[Campaign]:
        """Campaigns in state ``sending``, oldest first (what workers pick up)."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(campaigns).where(campaigns.c.status == "sending").order_by(campaigns.c.id)
            ).all()
        return [_campaign(row) for row in rows]

    def count_recipients(self, categories: Iterable[str], issue_date: str | None = None) -> int:
        """How many subscribers a snapshot taken now would include (of the daily issue of
        ``issue_date``, when given: weekly and paused readers left out)."""
        query = select(func.count()).select_from(
            recipients_select(categories, issue_date).subquery())
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def variant_counts(
        self, categories: Iterable[str], issue_date: str | None = None
    ) -> dict[str, int]:
        """Recipients a snapshot taken now would include, per variant key, in key order."""
        inner = recipients_select(categories, issue_date).subquery()
        query = (
            select(inner.c.variant, func.count())
            .group_by(inner.c.variant)
            .order_by(inner.c.variant)
        )
        with self.engine.connect() as conn:
            return {str(v): int(n) for v, n in conn.execute(query).all()}

    def start(
        self,
        issue_date: str,
        issue_path: str,
        categories: Iterable[str],
        content_sha256: str = "",
    ) -> tuple[Campaign, bool]:
        """The campaign for ``issue_date``, created with its snapshot if there is none.

        Returns the campaign and whether it was created now. The campaign row and every
        delivery row are written in one transaction: either all recipients are queued or
        there is no campaign. When two processes start the same issue at once, one creates
        it and the other gets that one.
        """
        existing = self.get(issue_date)
        if existing is not None:
            return existing, False
        now = self.clock()
        cats = list(categories)
        try:
            with self.engine.begin() as conn:
                campaign_id = conn.execute(
                    insert(campaigns)
                    .values(
                        issue_date=issue_date,
                        issue_path=issue_path,
                        content_sha256=content_sha256,
                        status="sending",
                        paused_reason="",
                        total=0,
                        created_at=now,
                    )
                    .returning(campaigns.c.id)
                ).scalar_one()
                chosen = recipients_select(cats, issue_date).subquery()
                rows = select(
                    literal(campaign_id).label("campaign_id"),
                    chosen.c.id,
                    chosen.c.variant,
                    literal("queued").label("status"),
                    literal(0).label("attempts"),
                    # By variant (issue #23): the deliveries claimed together share one
                    # bulk call's content.
                ).order_by(chosen.c.variant, chosen.c.id)
                conn.execute(
                    insert(deliveries).from_select(
                        ["campaign_id", "subscriber_id", "variant", "status", "attempts"],
                        rows,
                    )
                )
                # Counted, not taken from rowcount: drivers do not all report it here.
                total = conn.execute(
                    select(func.count())
                    .select_from(deliveries)
                    .where(deliveries.c.campaign_id == campaign_id)
                ).scalar_one()
                conn.execute(
                    update(campaigns).where(campaigns.c.id == campaign_id).values(total=total)
                )
                campaign_event(conn, "campaign.started", campaign_id, now)  # issue 22
        except IntegrityError:
            # Someone else created it between our look and our insert.
            other = self.get(issue_date)
            if other is None:
                raise
            return other, False
        created = self.by_id(campaign_id)
        assert created is not None
        return created, True

    def set_status(self, campaign_id: int, status: CampaignStatus, reason: str = "") -> None:
        """Set the campaign's state; ``reason`` says why it is paused (empty otherwise)."""
        with self.engine.begin() as conn:
            conn.execute(
                update(campaigns)
                .where(campaigns.c.id == campaign_id)
                .values(status=status, paused_reason=reason)
            )

    def accept_content(self, campaign_id: int, content_sha256: str) -> None:
        """Record that the rest of the campaign goes out with this (changed) content."""
        with self.engine.begin() as conn:
            conn.execute(
                update(campaigns)
                .where(campaigns.c.id == campaign_id)
                .values(content_sha256=content_sha256)
            )

    def pause(self, campaign_id: int, reason: str) -> None:
        """Pause a sending campaign (not a finished one); workers stop claiming from it."""
        with self.engine.begin() as conn:
            conn.execute(
                update(campaigns)
                .where(campaigns.c.id == campaign_id, campaigns.c.status == "sending")
                .values(status="paused", paused_reason=reason)
            )

    def set_limits(self, campaign_id: int, max_bounce_rate: float | None,
                   max_complaint_rate: float | None) -> None:
        """Store the health limits the campaign runs under (None leaves one as it is)."""
        values = {name: value for name, value in (("max_bounce_rate", max_bounce_rate),
                                                  ("max_complaint_rate", max_complaint_rate))
                  if value is not None}
        if values:
            with self.engine.begin() as conn:
                conn.execute(update(campaigns).where(campaigns.c.id == campaign_id)
                             .values(**values))

    def resume(self, campaign_id: int) -> None:
        """Reopen a paused campaign: sending again, and its deferred deliveries due now.

        Resuming is the operator saying the cause is fixed (SES reachable again), so
        deliveries deferred just before the pause are not left waiting for their time.
        """
        with self.engine.begin() as conn:
            opened = conn.execute(
                update(campaigns)
                .where(campaigns.c.id == campaign_id, campaigns.c.status == "paused")
                .values(status="sending", paused_reason="")
            ).rowcount
            if opened:
                conn.execute(
                    update(deliveries)
                    .where(deliveries.c.campaign_id == campaign_id,
                           deliveries.c.status == "queued", deliveries.c.not_before.is_not(None))
                    .values(not_before=None)
                )

    def finish_if_complete(self, campaign_id: int, waiting_for_events: bool = False) -> bool:
        """Mark the campaign done when no delivery is queued or in flight; True if done.

        With ``waiting_for_events`` (the reconcile policy) in-doubt deliveries keep it open
        too: SES's events will say whether they were sent, or they are sent again.
        """
        unfinished = ("queued", "sending", "in_doubt") if waiting_for_events else (
            "queued", "sending")
        open_rows = exists().where(
            deliveries.c.campaign_id == campaign_id,
            deliveries.c.status.in_(unfinished),
        )
        with self.engine.begin() as conn:
            finished = conn.execute(
                update(campaigns)
                .where(campaigns.c.id == campaign_id, campaigns.c.status == "sending", ~open_rows)
                .values(status="done", paused_reason="", finished_at=self.clock())
            ).rowcount
            if finished:
                campaign_event(conn, "campaign.finished", campaign_id, self.clock())  # issue 22
            status = conn.execute(
                select(campaigns.c.status).where(campaigns.c.id == campaign_id)
            ).scalar_one()
        return bool(status == "done")

    # -- deliveries ------------------------------------------------------------------

    def counts(self, campaign_id: int) -> DeliveryCounts:
        """How many deliveries of the campaign are in each state."""
        now = self.clock()
        deferred = and_(deliveries.c.status == "queued", deliveries.c.not_before > now)
        twice = and_(deliveries.c.status == "sent", deliveries.c.resends > 0)
        query = (
            select(
                deliveries.c.status,
                func.count(),
                func.sum(case((deferred, 1), else_=0)),
                func.sum(case((twice, 1), else_=0)),
            )
            .where(deliveries.c.campaign_id == campaign_id)
            .group_by(deliveries.c.status)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        found = {str(status): int(n) for status, n, _, _ in rows}
        return DeliveryCounts(
            queued=found.get("queued", 0),
            sending=found.get("sending", 0),
            sent=found.get("sent", 0),
            failed=found.get("failed", 0),
            in_doubt=found.get("in_doubt", 0),
            deferred=sum(int(d or 0) for _, _, d, _ in rows),
            skipped=found.get("skipped", 0),
            maybe_twice=sum(int(t or 0) for _, _, _, t in rows),
        )

    def variants(self, campaign_id: int, *, unsent_only: bool = False) -> list[str]:
        """The distinct variant keys among the campaign's deliveries, sorted; with
        ``unsent_only``, among those that may still be sent (queued, sending, in doubt)."""
        which = deliveries.c.campaign_id == campaign_id
        if unsent_only:
            which = and_(which, deliveries.c.status.in_(("queued", "sending", "in_doubt")))
        query = (
            select(deliveries.c.variant)
            .where(which)
            .distinct()
            .order_by(deliveries.c.variant)
        )
        with self.engine.connect() as conn:
            return [str(v) for v in conn.execute(query).scalars()]

    def in_doubt(self, campaign_id: int, limit: int | None = 100) -> list[tuple[int, str, str]]:
        """Up to ``limit`` (None: all) in-doubt deliveries as (id, email, reason), by id."""
        query = (
            select(deliveries.c.id, func.coalesce(subscribers.c.email, ""), deliveries.c.error)
            .select_from(deliveries.outerjoin(subscribers,
                                              subscribers.c.id == deliveries.c.subscriber_id))
            .where(deliveries.c.campaign_id == campaign_id, deliveries.c.status == "in_doubt")
            .order_by(deliveries.c.id)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [(int(i), str(e), str(r or "")) for i, e, r in conn.execute(query).all()]

    def claim(self, campaign_id: int, worker_id: str, limit: int) -> list[Claim]:
        """See :func:`newsletter.store.claims.claim`."""
        return claims.claim(self.engine, self.clock(), campaign_id, worker_id, limit)

    def record(self, worker_id: str, results: Sequence[DeliveryResult]) -> None:
        """See :func:`newsletter.store.claims.record`."""
        claims.record(self.engine, self.clock(), worker_id, results)

    def recover(self, campaign_id: int, live_workers: Iterable[str], policy: InDoubtPolicy) -> int:
        """See :func:`newsletter.store.reconcile.recover`."""
        return reconcile.recover(self.engine, campaign_id, live_workers, policy)

    def reconcile(self, campaign_id: int, after: dt.timedelta) -> reconcile.Reconciled:
        """In-doubt deliveries decided from SES's events, now; see :mod:`store.reconcile`."""
        return reconcile.reconcile(self.engine, campaign_id, self.clock(), after)

    def requeue_failed(self, campaign_id: int) -> int:
        """Failed deliveries queued again and the campaign reopened; how many."""
        return reconcile.requeue_failed(self.engine, campaign_id)

    def count_left_out(self, categories: Iterable[str], issue_date: str | None = None) -> int:
        """Active readers an issue with ``categories`` skips; see :mod:`store.audience`."""
        return count_left_out(self.engine, categories, issue_date)

    def waiting_readers(self, issue_date: str) -> tuple[dict[int, int], int]:
        """Readers the daily issue skips by frequency; see :mod:`store.editions`."""
        return waiting_readers(self.engine, issue_date)

    def follows_of(self, campaign_id: int) -> dict[int, tuple[Follow, ...]]:
        """Unsent readers' follows; see :mod:`store.editions`."""
        return follows_of_campaign(self.engine, campaign_id)

    def clicks_by_link(self, issue_dates: Iterable[str]) -> dict[str, int]:
        """Readers who clicked each link in these campaigns; see :mod:`store.editions`."""
        return clicks_by_link(self.engine, issue_dates)

    def deliveries_by_variant(self, campaign_id: int) -> dict[str, int]:
        """Deliveries per variant key; see :mod:`store.editions`."""
        return deliveries_by_variant(self.engine, campaign_id)

    def sent_issue_dates(self) -> frozenset[str]:
        """Dates of the campaigns that sent something; see :mod:`store.published`."""
        return sent_issue_dates(self.engine)


def _campaign(row: Any) -> Campaign:
    return Campaign(
        id=int(row.id),
        issue_date=str(row.issue_date),
        issue_path=str(row.issue_path),
        status=row.status,
        paused_reason=str(row.paused_reason or ""),
        total=int(row.total),
        created_at=row.created_at,
        finished_at=row.finished_at,
        content_sha256=str(row.content_sha256 or ""),
    )
