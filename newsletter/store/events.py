"""SES events in the database: stored once, matched to our deliveries, applied.

One pipeline for both sources (the webhook and the SQS poller): ``EventStore.apply`` takes
normalised events and, in one transaction, stores the new ones (an event already stored,
by its content key, changes nothing), matches each to its delivery (our tag or header,
else SES's message id), and applies what it means:

- Send, Delivery, Bounce, Complaint, DeliveryDelay, Open, Click: SES accepted the message,
  so an ``in_doubt`` delivery becomes ``sent`` (the reconcile policy's evidence);
- Reject: the delivery ``failed`` (SES accepted the call but refused the message);
- a permanent bounce: the address is suppressed and its subscriber ``bounced``; the
  ``soft_bounce_limit``-th transient bounce within 30 days suppresses it too;
- a complaint: suppressed and ``complained``.

Afterwards each campaign the batch touched is checked against the health limits and
paused, with the reason, when its bounce or complaint rate is too high.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

from sqlalchemy import Connection, bindparam, func, select, text, update
from sqlalchemy.exc import IntegrityError, OperationalError

from newsletter.clock import utc_now
from newsletter.errors import InvalidAddressError
from newsletter.model.addresses import normalize_email
from newsletter.model.campaigns import CampaignHealth
from newsletter.model.events import SesEvent, suppressions_for
from newsletter.store.base import Store
from newsletter.store.db import Database
from newsletter.store.event_rows import event_row, insert_events, stored_sns
from newsletter.store.event_rows import normal as _normal
from newsletter.store.pg_rows import one_of_ids
from newsletter.store.rollup import LinkCache, Target, roll_up
from newsletter.store.rows import suppress_address
from newsletter.store.tables import HAS_EMAIL, campaigns, deliveries, ses_events, subscribers

# Events that prove SES accepted the message for delivery.
ACCEPTED_KINDS = ("send", "delivery", "bounce", "complaint", "delivery_delay", "open", "click")
# A Reject fails a delivery SES may have been handed; not one already failed or skipped.
REJECTABLE = ("sent", "in_doubt", "sending")
SOFT_BOUNCE_WINDOW = dt.timedelta(days=30)
HEALTH_CHECK_INTERVAL = 1.0  # seconds

# What became of one received event: new, the same event again, or the same SNS message again.
Fate = Literal["stored", "duplicate", "replayed"]


@dataclass(frozen=True)
class Received:
    """One event as it arrived: the normalised event and its SNS MessageId, if any."""

    event: SesEvent
    sns_message_id: str | None = None


class Match(NamedTuple):
    """The delivery an event is about, with its status when the event was matched."""

    delivery_id: int
    campaign_id: int
    status: str
    variant: str = ""
    sent_at: dt.datetime | None = None


@dataclass(frozen=True)
class HealthLimits:
    max_bounce_rate: float = 0.04
    max_complaint_rate: float = 0.0008
    soft_bounce_limit: int = 3


@dataclass
class ApplyResult:
    """What one batch did."""

    stored: int = 0
    duplicates: int = 0  # the same SES event again (by its content key)
    replayed: int = 0  # an SNS message already applied (by its MessageId)
    unmatched: int = 0
    confirmed: int = 0  # in-doubt deliveries now known to be sent
    rejected: int = 0
    suppressed: int = 0
    paused: list[str] = field(default_factory=list)  # pause reasons, one per campaign
    fates: list[Fate] = field(default_factory=list)  # one per received event, in order


class EventStore(Store):
    """The ``ses_events`` table and what applying an event changes."""

    def __init__(self, db: Database, limits: HealthLimits = HealthLimits(),
                 clock: Callable[[], dt.datetime] = utc_now, base_url: str = "") -> None:
        super().__init__(db)
        self.limits = limits
        self.clock = clock
        self.base_url = base_url  # our own links' prefix, to tell their clicks apart
        self._links: LinkCache = {}
        self._checked: dict[int, float] = {}
        # SQLite has one writer at a time; threads of this process take turns here rather
        # than upgrading read transactions into each other's locks. PostgreSQL needs none.
        self._write_lock: threading.Lock | contextlib.nullcontext[None] = (
            threading.Lock() if db.dialect == "sqlite" else contextlib.nullcontext()
        )

    def apply(self, batch: Sequence[Received]) -> ApplyResult:
        """Store and apply a batch of events in one transaction; see the module docstring."""
        if not batch:
            return ApplyResult()
        with self._write_lock:
            try:
                result, touched = self._apply(batch)
            except (IntegrityError, OperationalError) as err:
                # Another process wrote what we were writing (a suppression, say), or, on
                # SQLite, wrote since our read began (a busy snapshot), or, on PostgreSQL,
                # the transaction was chosen to end a deadlock: once more, from the start
                # (it was rolled back: nothing of it counted).
                if isinstance(err, OperationalError) and not (
                        self.engine.dialect.name == "sqlite" or _rolled_back(err)):
                    raise
                result, touched = self._apply(batch)
        # Only bounces and complaints can push a rate over its limit; the check counts every
        # event of the campaign, so it runs at most once a second per campaign.
        alarming = any(r.event.kind in ("bounce", "complaint") for r in batch)
        for campaign_id in sorted(touched) if alarming else ():
            now = time.monotonic()
            if now - self._checked.get(campaign_id, -HEALTH_CHECK_INTERVAL) < HEALTH_CHECK_INTERVAL:
                continue
            self._checked[campaign_id] = now
            reason = self.pause_if_unhealthy(campaign_id)
            if reason:
                result.paused.append(reason)
        return result

    def _apply(self, batch: Sequence[Received]) -> tuple[ApplyResult, set[int]]:
        result = ApplyResult()
        now = self.clock()
        with self.engine.begin() as conn:
            # An SNS message applied before is a replay whatever it holds now (it may be
            # re-signed with other content); the batch's own repeats are known here; other
            # events stored before, by the unique index of the key as they are inserted:
            # exact against other appliers too.
            keys: set[str] = set()
            replays = stored_sns(conn, [r.sns_message_id for r in batch if r.sns_message_id])
            fates: list[Fate | None] = []
            candidates: list[Received] = []
            for item in batch:
                if item.sns_message_id is not None and item.sns_message_id in replays:
                    fates.append("replayed")
                elif item.event.key in keys:
                    fates.append("duplicate")
                else:
                    keys.add(item.event.key)
                    if item.sns_message_id is not None:
                        replays.add(item.sns_message_id)
                    candidates.append(item)
                    fates.append(None)
            matched = _match(conn, [r.event for r in candidates])
            rows = [event_row(item.event, item.sns_message_id,
                              found.delivery_id if found else None,
                              found.campaign_id if found else None, now)
                    for item in candidates for found in [matched.get(id(item.event))]]
            inserted = insert_events(conn, rows) if rows else set()
            fresh = [item for item in candidates if item.event.key in inserted]
            # Stored meanwhile by another applier: the same SNS message, else the same event.
            old = [item for item in candidates if item.event.key not in inserted]
            replayed = stored_sns(conn, [r.sns_message_id for r in old if r.sns_message_id])
            verdicts: list[Fate] = [
                "stored" if item.event.key in inserted
                else "replayed" if item.sns_message_id in replayed else "duplicate"
                for item in candidates]
            later = iter(verdicts)
            result.fates = [next(later) if fate is None else fate for fate in fates]
            result.replayed = result.fates.count("replayed")
            result.duplicates = result.fates.count("duplicate")
            result.stored = len(fresh)
            result.unmatched = sum(id(item.event) not in matched for item in fresh)
            if not fresh:
                return result, set()
            links = roll_up(conn, [(item.event, _target(m)) for item in fresh
                                   if (m := matched.get(id(item.event))) is not None],
                            self.base_url, self._links)
            self._settle_deliveries(conn, fresh, matched, result)
            for item in fresh:
                result.suppressed += self._suppress(conn, item.event, now)
        self._links.update(links)  # committed: the link ids are there for good
        touched = {m.campaign_id for item in fresh
                   if (m := matched.get(id(item.event))) is not None}
        return result, touched

    def _settle_deliveries(self, conn: Connection, fresh: Sequence[Received],
                           matched: dict[int, Match], result: ApplyResult) -> None:
        """In-doubt deliveries an event shows SES accepted become sent; rejected ones failed.

        Only deliveries whose status, as matched, calls for a change are updated (almost
        every event is about a delivery already ``sent``, so usually nothing is). One that
        turns in doubt after the match is still settled: ``reconcile`` confirms in-doubt
        deliveries from the stored events, so the event is not lost on it.
        """
        now = self.clock()
        accepted, rejected = [], []
        for item in fresh:
            found = matched.get(id(item.event))
            if found is None:
                continue
            if item.event.kind in ACCEPTED_KINDS and found.status == "in_doubt":
                accepted.append({"b_id": found.delivery_id, "b_mid": item.event.ses_message_id,
                                 "b_now": now})
            elif item.event.kind == "reject" and found.status in REJECTABLE:
                rejected.append({"b_id": found.delivery_id,
                                 "b_error": f"SES rejected it: {item.event.detail}"})
        if accepted:
            result.confirmed = conn.execute(_CONFIRM_SENT, accepted).rowcount
        if rejected:
            result.rejected = conn.execute(_REJECTED, rejected).rowcount

    def _suppress(self, conn: Connection, event: SesEvent, now: dt.datetime) -> int:
        wanted = suppressions_for(event)
        if event.kind == "bounce" and not event.permanent:
            wanted = [
                (address, "bounced", f"{n} transient bounces in 30 days ({event.detail})")
                for address in event.recipients
                if (n := self._soft_bounces(conn, address, now)) >= self.limits.soft_bounce_limit
            ]
        done = 0
        for address, reason, detail in wanted:
            try:
                normal = normalize_email(address)
            except InvalidAddressError:
                continue  # SES reported an address we could never have mailed
            suppress_address(conn, normal, reason, detail, now)
            done += 1
        return done

    def _soft_bounces(self, conn: Connection, address: str, now: dt.datetime) -> int:
        return int(conn.execute(
            select(func.count()).select_from(ses_events).where(
                ses_events.c.email == _normal(address), text(HAS_EMAIL),  # its index
                ses_events.c.kind == "bounce",
                ses_events.c.bounce_type == "Transient",
                ses_events.c.occurred_at >= now - SOFT_BOUNCE_WINDOW,
            )
        ).scalar_one())

    # -- health ----------------------------------------------------------------------

    def health(self, campaign_id: int) -> CampaignHealth:
        """Distinct deliveries per kind of event, and how many were sent."""
        e = ses_events.c
        per_delivery = func.count(func.distinct(e.delivery_id))
        query = (
            select(e.kind, e.bounce_type, e.machine, per_delivery)
            .where(e.campaign_id == campaign_id)
            .group_by(e.kind, e.bounce_type, e.machine)
        )
        sent_query = select(func.count()).select_from(deliveries).where(
            deliveries.c.campaign_id == campaign_id, deliveries.c.status == "sent"
        )
        counts: dict[str, int] = {}
        with self.engine.connect() as conn:
            for kind, bounce_type, machine, n in conn.execute(query).all():
                name = str(kind)
                if name == "bounce":
                    name = "hard_bounced" if bounce_type == "Permanent" else "soft_bounced"
                elif name == "open" and machine:
                    counts["machine_opened"] = counts.get("machine_opened", 0) + int(n)
                counts[name] = counts.get(name, 0) + int(n)
            sent = int(conn.execute(sent_query).scalar_one())
        return CampaignHealth(
            sent=sent,
            delivered=counts.get("delivery", 0),
            hard_bounced=counts.get("hard_bounced", 0),
            soft_bounced=counts.get("soft_bounced", 0),
            complained=counts.get("complaint", 0),
            rejected=counts.get("reject", 0),
            delayed=counts.get("delivery_delay", 0),
            opened=counts.get("open", 0),
            machine_opened=counts.get("machine_opened", 0),
            clicked=counts.get("click", 0),
        )

    def pause_if_unhealthy(self, campaign_id: int) -> str | None:
        """Pause a sending campaign whose bounce or complaint rate is too high; the reason.

        The limits are the campaign's own when stored with it (``send --max-bounce-rate``),
        so every process judges it alike; else this process's.
        """
        with self.engine.connect() as conn:
            stored = conn.execute(
                select(campaigns.c.max_bounce_rate, campaigns.c.max_complaint_rate)
                .where(campaigns.c.id == campaign_id)
            ).first()
        bounce, complaint = stored if stored is not None else (None, None)
        reason = self.health(campaign_id).problem(
            self.limits.max_bounce_rate if bounce is None else float(bounce),
            self.limits.max_complaint_rate if complaint is None else float(complaint),
        )
        if reason is None:
            return None
        with self.engine.begin() as conn:
            paused = conn.execute(
                update(campaigns)
                .where(campaigns.c.id == campaign_id, campaigns.c.status == "sending")
                .values(status="paused", paused_reason=reason)
            ).rowcount
        return reason if paused else None


# The statements of the hot path, built once: a webhook event or an SQS batch runs each of
# them, and building a statement costs more than SQLite takes to execute it.
_d = deliveries.c
_BY_ID = select(_d.id, _d.campaign_id, _d.status, _d.variant, _d.sent_at)
_DELIVERIES_BY_ID = _BY_ID.where(_d.id.in_(bindparam("ids", expanding=True)))
_DELIVERIES_BY_ID_PG = _BY_ID.where(one_of_ids(_d.id, "ids"))  # prepared once
# SES's message id has no index of its own (issue 17: it was a fifth of the bytes of a
# delivery): the reader's address finds their deliveries (the unique index of the
# subscriber's address, then ``uq_deliveries_subscriber_campaign``), the id picks the one.
_DELIVERIES_BY_MESSAGE = (
    select(_d.provider_id, _d.id, _d.campaign_id, _d.status, _d.variant, _d.sent_at)
    .select_from(deliveries.join(subscribers, subscribers.c.id == _d.subscriber_id))
    .where(subscribers.c.email.in_(bindparam("emails", expanding=True)),
           _d.provider_id.in_(bindparam("mids", expanding=True)))
)
_CONFIRM_SENT = (
    update(deliveries)
    .where(deliveries.c.id == bindparam("b_id"), deliveries.c.status == "in_doubt")
    .values(
        status="sent",
        error=None,
        sent_at=func.coalesce(deliveries.c.sent_at, bindparam("b_now")),
        provider_id=func.coalesce(
            deliveries.c.provider_id, bindparam("b_mid", type_=deliveries.c.provider_id.type)),
    )
)
_REJECTED = (
    update(deliveries)
    .where(deliveries.c.id == bindparam("b_id"), deliveries.c.status.in_(REJECTABLE))
    .values(status="failed", error=bindparam("b_error"))
)


def _rolled_back(err: OperationalError) -> bool:
    """Whether PostgreSQL ended the transaction to resolve a deadlock or a conflict."""
    return str(getattr(err.orig, "sqlstate", "") or "").startswith("40")


def _match(conn: Connection, events: Sequence[SesEvent]) -> dict[int, Match]:
    """``id(event)`` -> its delivery, for every event we can place."""
    wanted = list({e.delivery_id for e in events if e.delivery_id is not None})
    by_id: dict[int, Match] = {}
    if wanted:
        by_id = {int(i): Match(int(i), int(c), str(s), str(v), at)
                 for i, c, s, v, at in conn.execute(
                     _DELIVERIES_BY_ID_PG if conn.dialect.name == "postgresql"
                     else _DELIVERIES_BY_ID, {"ids": wanted})}
    found: dict[int, Match] = {}
    by_message: dict[str, list[SesEvent]] = {}
    for event in events:
        if event.delivery_id is not None and event.delivery_id in by_id:
            found[id(event)] = by_id[event.delivery_id]
        elif event.ses_message_id:
            by_message.setdefault(event.ses_message_id, []).append(event)
    if by_message:
        emails = sorted({_normal(a) for events_ in by_message.values() for e in events_
                         for a in _addressed(e)})
        params = {"mids": list(by_message), "emails": emails}
        rows: Any = conn.execute(_DELIVERIES_BY_MESSAGE, params).all() if emails else []
        for provider_id, delivery_id, campaign_id, status, variant, sent_at in rows:
            for event in by_message.get(str(provider_id), []):
                found[id(event)] = Match(int(delivery_id), int(campaign_id), str(status),
                                         str(variant), sent_at)
    return found


def _addressed(event: SesEvent) -> list[str]:
    """The addresses the message of ``event`` went to: its recipients and the mail's."""
    mail = event.raw.get("mail")
    destination = mail.get("destination") if isinstance(mail, dict) else None
    listed = [a for a in destination if isinstance(a, str)] if isinstance(destination, list) else []
    return [*event.recipients, *listed]


def _target(match: Match) -> Target:
    return Target(match.delivery_id, match.campaign_id, match.variant, match.sent_at)
