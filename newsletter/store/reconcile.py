"""Settling deliveries whose fate is unknown: stale claims, in-doubt rows, failed rows.

``recover`` settles rows left ``sending`` by a worker that is gone, by the in-doubt policy.
``reconcile`` (the "reconcile" policy) decides in-doubt rows from SES's own events: a row
some Send, Delivery or Bounce event names was accepted by SES and becomes ``sent``; a row
no event names once ``after`` has passed since its claim was never accepted and goes back
to ``queued``, but only when an event feed is demonstrably current past it (``store.feeds``:
a consumer that beat recently has received every event SES published until ``after`` past
the claim). A late event, a dead or lagging poller must not cause a second copy: until a
feed is current the row stays in doubt, and ``Reconciled.waiting`` says how many and why.
``requeue_failed`` is the operator's "I fixed it, try the failed ones again".
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Engine, and_, exists, false, func, or_, select, true, update

from newsletter.store.events import ACCEPTED_KINDS
from newsletter.store.feeds import Feed, feeds
from newsletter.store.packing import worker_key
from newsletter.store.tables import campaigns, deliveries, ses_events, subscribers
from newsletter.vocabulary import InDoubtPolicy

STOPPED = "the sending process stopped while this message was in flight"


def recover(
    engine: Engine, campaign_id: int, live_workers: Iterable[str], policy: InDoubtPolicy
) -> int:
    """Settle deliveries left in ``sending`` by workers that are gone; return how many.

    With policy "skip" or "reconcile" they become ``in_doubt`` ("skip" never sends them
    again: at most once; "reconcile" then asks SES's events); with "resend" they go back
    to ``queued``, and so do earlier in-doubt ones (at least once).
    """
    live = sorted({worker_key(w) for w in live_workers})
    orphaned = and_(
        deliveries.c.campaign_id == campaign_id,
        deliveries.c.status == "sending",
        deliveries.c.claimed_by.not_in(live) if live else true(),
    )
    with engine.begin() as conn:
        if policy != "resend":
            moved = conn.execute(
                update(deliveries).where(orphaned).values(status="in_doubt", error=STOPPED)
            ).rowcount
        else:
            # Each may have reached SES already: counted, so `status` can say how many
            # readers may have two copies.
            moved = conn.execute(
                update(deliveries).where(orphaned)
                .values(status="queued", error=STOPPED, resends=deliveries.c.resends + 1)
            ).rowcount
            moved += conn.execute(
                update(deliveries)
                .where(
                    deliveries.c.campaign_id == campaign_id,
                    deliveries.c.status == "in_doubt",
                )
                .values(status="queued", resends=deliveries.c.resends + 1)
            ).rowcount
    return int(moved)


@dataclass(frozen=True)
class Reconciled:
    """What reconciling did: in-doubt deliveries found sent, and ones queued again."""

    confirmed: int = 0
    requeued: int = 0
    waiting: int = 0  # old enough to resend, but no event feed is current past them
    why: str = ""  # why they wait


def _why(known: list[Feed], now: dt.datetime) -> str:
    if not known:
        return ("no SES event feed has reported: run `newsletter events poll` (or `serve` "
                "with NEWSLETTER_SNS_TOPIC_ARNS) so that SES's events can decide them")
    live = [f for f in known if f.live(now)]
    if not live:
        last = max(known, key=lambda f: f.heartbeat_at)
        return (f"no SES event feed is running ({last.name} was last seen at "
                f"{last.heartbeat_at:%Y-%m-%d %H:%M:%S} UTC); they are decided once it runs")
    best = max(live, key=lambda f: f.current_to or dt.datetime.min.replace(tzinfo=dt.UTC))
    upto = f"{best.current_to:%Y-%m-%d %H:%M:%S} UTC" if best.current_to else "nothing yet"
    return (f"the SES event feed ({best.name}) has caught up only to {upto}; they are "
            "decided once it has received the events of NEWSLETTER_RECONCILE_AFTER past "
            "their claim")


def reconcile(
    engine: Engine, campaign_id: int, now: dt.datetime, after: dt.timedelta
) -> Reconciled:
    """Decide the campaign's in-doubt deliveries from stored SES events (see module doc)."""
    named = exists().where(
        ses_events.c.delivery_id == deliveries.c.id, ses_events.c.kind.in_(ACCEPTED_KINDS)
    )
    anything = exists().where(ses_events.c.delivery_id == deliveries.c.id)
    in_doubt = and_(deliveries.c.campaign_id == campaign_id, deliveries.c.status == "in_doubt")
    unnamed = and_(in_doubt, ~anything, deliveries.c.claimed_at.is_not(None),
                   deliveries.c.claimed_at <= now - after)
    # Read apart from the writes below: on SQLite a write transaction that reads first
    # fails at once ("database is locked") when another process wrote meanwhile.
    with engine.connect() as conn:
        known = feeds(conn)
    with engine.begin() as conn:
        current = [f for f in known if f.live(now) and f.current_to is not None]
        covered = or_(false(), *[
            and_(deliveries.c.claimed_at <= f.current_to - after,  # type: ignore[operator]
                 deliveries.c.claimed_at >= f.covers_from if f.covers_from else true())
            for f in current
        ])
        confirmed = conn.execute(
            update(deliveries)
            .where(in_doubt, named)
            .values(status="sent", error=None,
                    sent_at=func.coalesce(deliveries.c.sent_at, now))
        ).rowcount
        requeued = conn.execute(
            update(deliveries)
            .where(unnamed, covered)
            .values(status="queued", error="no SES event named it: it was never accepted")
        ).rowcount
        waiting = int(conn.execute(
            select(func.count()).select_from(deliveries).where(unnamed)).scalar_one())
    return Reconciled(int(confirmed), int(requeued), waiting, _why(known, now) if waiting else "")


def requeue_failed(engine: Engine, campaign_id: int) -> int:
    """Put the campaign's failed deliveries back in the queue and reopen it; how many."""
    with engine.begin() as conn:
        moved = conn.execute(
            update(deliveries)
            .where(deliveries.c.campaign_id == campaign_id, deliveries.c.status == "failed",
                   exists().where(subscribers.c.id == deliveries.c.subscriber_id))  # erased
            # readers stay failed
            .values(status="queued", error=None, not_before=None)
        ).rowcount
        if moved:
            conn.execute(
                update(campaigns)
                .where(campaigns.c.id == campaign_id, campaigns.c.status == "done")
                .values(status="sending", finished_at=None)
            )
    return int(moved)
