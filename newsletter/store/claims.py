"""Claiming deliveries and recording their outcomes: the two statements of the send loop.

A claim moves queued rows to ``sending`` in one UPDATE, committed before any message is
handed over. Readers who opted out after the snapshot (unsubscribed, bounced, complained,
or suppressed) are not claimed: their rows become ``skipped`` at claim time, so a reader
who leaves during a long campaign is not mailed by it.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    Dialect,
    Engine,
    Integer,
    bindparam,
    exists,
    literal_column,
    or_,
    select,
    text,
    update,
)

from newsletter.model.campaigns import Claim, DeliveryResult
from newsletter.store.packing import worker_key
from newsletter.store.tables import UNSETTLED, campaigns, deliveries, subscribers, suppressions

SKIPPED_REASON = (
    "not sent: the reader unsubscribed, bounced, complained or was suppressed after the "
    "campaign started"
)


def _opted_out() -> Any:
    """True for a delivery whose reader may no longer be mailed (correlated to the row)."""
    active = exists().where(
        subscribers.c.id == deliveries.c.subscriber_id, subscribers.c.status == "active"
    )
    suppressed = exists().where(subscribers.c.id == deliveries.c.subscriber_id,
                                suppressions.c.email == subscribers.c.email)
    return or_(~active, suppressed)


@functools.cache
def _claim_statements() -> tuple[Any, Any]:
    """The two statements of a claim, built once with bound parameters (``c_*``).

    Building them anew for every claim cost more CPU than running them (issue #23: a bulk
    sender claims 50 rows per call, thousands of times a minute).
    """
    campaign_id = bindparam("c_campaign", type_=deliveries.c.campaign_id.type)
    now = bindparam("c_now", type_=deliveries.c.not_before.type)
    limit = bindparam("c_limit", type_=Integer)
    sending = exists().where(campaigns.c.id == campaign_id, campaigns.c.status == "sending")
    claimable = (
        deliveries.c.campaign_id == campaign_id,
        # Literal, and the claim index's own predicate beside it: so SQLite walks the
        # partial index in id order instead of sorting every queued row of the campaign
        # for each claim (and PostgreSQL's generic plans can prove the index applies).
        deliveries.c.status == literal_column("'queued'"),
        text(f"deliveries.{UNSETTLED}"),
        or_(deliveries.c.not_before.is_(None), deliveries.c.not_before <= now),
        sending,
    )
    window = (
        select(deliveries.c.id)
        .where(*claimable)
        .order_by(deliveries.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    skip = (
        update(deliveries)
        .where(deliveries.c.id.in_(window.scalar_subquery()), _opted_out())
        .values(status="skipped", error=SKIPPED_REASON, not_before=None)
    )
    pick = (
        select(deliveries.c.id)
        .where(*claimable, ~_opted_out())
        .order_by(deliveries.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    take = (
        update(deliveries)
        .where(deliveries.c.id.in_(pick.scalar_subquery()))
        .values(
            status="sending",
            claimed_by=bindparam("c_worker", type_=deliveries.c.claimed_by.type),
            claimed_at=now,
            attempts=deliveries.c.attempts + 1,
            not_before=None,
        )
        .returning(
            deliveries.c.id,
            deliveries.c.subscriber_id,
            # The reader's address (deliveries keep none of their own since issue 17).
            select(subscribers.c.email).where(subscribers.c.id == deliveries.c.subscriber_id)
            .scalar_subquery(),
            deliveries.c.variant,
        )
    )
    return skip, take


def claim(
    engine: Engine, now: dt.datetime, campaign_id: int, worker_id: str, limit: int
) -> list[Claim]:
    """Move up to ``limit`` claimable queued deliveries to ``sending`` for ``worker_id``.

    Committed before this returns, so a message is only ever handed to a transport after
    its row durably says ``sending``. Nothing is claimed unless the campaign is in state
    ``sending``. On PostgreSQL concurrent workers skip each other's locked rows
    (``FOR UPDATE SKIP LOCKED``); SQLite serialises writers, and each step is a single
    UPDATE statement, so two processes never claim the same row there either.

    First the opted-out rows among the next ``limit`` claimable ones become ``skipped``;
    then the claim takes the next ``limit`` rows whose readers may still be mailed. Only an
    empty answer means nothing is left.
    """
    if limit <= 0:
        return []
    skip, take = _claim_statements()
    params = {"c_campaign": campaign_id, "c_now": now, "c_limit": limit,
              "c_worker": worker_key(worker_id)}
    while True:
        with engine.begin() as conn:
            skipped = conn.execute(skip, params).rowcount
            rows = conn.execute(take, params).all()
        # Skipped rows and no claim: the window held only opted-out readers; look again.
        if rows or not skipped:
            break
    # RETURNING gives no order; hand claims out in id order for predictability.
    return sorted(
        (Claim(int(i), int(s), str(e), str(v)) for i, s, e, v in rows), key=lambda c: c.id
    )


def _sent_update() -> Any:
    return (
        update(deliveries)
        .where(
            deliveries.c.id == bindparam("b_id", type_=deliveries.c.id.type),
            # Not IN (...): an expanding parameter cannot be used with executemany.
            or_(
                deliveries.c.status == "sending",
                deliveries.c.status == "in_doubt",
                deliveries.c.status == "queued",
            ),
        )
        .values(
            status="sent",
            provider_id=bindparam("b_provider", type_=deliveries.c.provider_id.type),
            sent_at=bindparam("b_now", type_=deliveries.c.sent_at.type),
            error=None,
            resends=deliveries.c.resends + bindparam("b_resent", type_=Integer),
        )
    )


@functools.lru_cache(maxsize=4)
def _sent_statement(dialect: Dialect) -> tuple[str, tuple[str, ...] | None, dict[str, Any]]:
    """The "sent" UPDATE as the driver takes it: its SQL, the parameter order of a
    positional paramstyle (None for a named one), and every parameter's bind processor."""
    compiled = _sent_update().compile(dialect=dialect)
    processors = {}
    for bind, name in compiled.bind_names.items():
        process = bind.type.dialect_impl(dialect).bind_processor(dialect)
        processors[name] = process if process is not None else _as_is
    order = tuple(compiled.positiontup or ()) if compiled.positional else None
    constants = {name: bind.effective_value for bind, name in compiled.bind_names.items()
                 if not name.startswith("b_")}
    return compiled.string, order, {"constants": constants, **processors}


def _as_is(value: Any) -> Any:
    return value


def _driver_rows(
    rows: list[dict[str, Any]], now: dt.datetime, order: tuple[str, ...] | None,
    bound: dict[str, Any],
) -> list[Any]:
    """``rows`` bound as SQLAlchemy would bind them, the constants and the time once."""
    processors = {name: fn for name, fn in bound.items() if name != "constants"}
    fixed = {name: processors[name](value) for name, value in bound["constants"].items()}
    fixed["b_now"] = processors["b_now"](now)
    out: list[Any] = []
    for row in rows:
        values = dict(fixed)
        for name, value in row.items():
            values[name] = processors[name](value)
        out.append(tuple(values[name] for name in order) if order is not None else values)
    return out


def record(
    engine: Engine, now: dt.datetime, worker_id: str, results: Sequence[DeliveryResult]
) -> None:
    """Write the outcome of claimed deliveries, all in one transaction.

    "sent" always wins (it is the truth even if another worker meanwhile declared the
    row in doubt); the other outcomes apply only to rows this worker still holds.
    """
    if not results:
        return
    sent = [
        {"b_id": r.delivery_id, "b_provider": r.provider_id, "b_resent": int(r.resent)}
        for r in results
        if r.status == "sent"
    ]
    others = [
        {
            "b_id": r.delivery_id,
            "b_status": r.status,
            "b_error": r.error,
            "b_not_before": r.not_before,
            "b_worker": worker_key(worker_id),
            "b_resent": int(r.resent),
        }
        for r in results
        if r.status != "sent"
    ]
    with engine.begin() as conn:
        if sent:
            # The statement compiled once per dialect, its rows handed to the driver as
            # they are: SQLAlchemy's per-row parameter processing of an executemany cost
            # more than the UPDATE itself (issue #23: a bulk send records 2,500 rows/s).
            sql, order, bound = _sent_statement(engine.dialect)
            conn.exec_driver_sql(sql, _driver_rows(sent, now, order, bound))
        if others:
            conn.execute(
                update(deliveries)
                .where(
                    deliveries.c.id == bindparam("b_id"),
                    deliveries.c.status == "sending",
                    deliveries.c.claimed_by == bindparam("b_worker"),
                )
                .values(
                    status=bindparam("b_status"),
                    error=bindparam("b_error"),
                    not_before=bindparam("b_not_before"),
                    # Tried after a lost answer, then deferred: its next send may be a second.
                    resends=deliveries.c.resends + bindparam("b_resent"),
                ),
                others,
            )

