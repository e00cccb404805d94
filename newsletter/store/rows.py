"""Row-level writes shared by the subscriber store's transactions: events and suppressions."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Connection, insert, select, update

from newsletter.model.addresses import email_hash
from newsletter.store.tables import subscriber_events, subscribers, suppressions
from newsletter.store.webhook_outbox import subscriber_event
from newsletter.vocabulary import SUPPRESSED_STATUSES


@dataclass(frozen=True)
class SuppressionKey:
    """The hash and reason of an existing suppression."""

    hash: str
    reason: str


def suppression_key(conn: Connection, normal: str) -> SuppressionKey | None:
    """The suppression of the normalised address ``normal``, or None."""
    row = conn.execute(
        select(suppressions.c.email_hash, suppressions.c.reason).where(
            suppressions.c.email_hash == email_hash(normal)
        )
    ).first()
    return SuppressionKey(row.email_hash, row.reason) if row else None


def insert_suppression(
    conn: Connection,
    email: str | None,
    reason: str,
    detail: str,
    now: dt.datetime,
    digest: str | None = None,
) -> None:
    """Suppress an address (or a bare ``digest`` for an erased one) unless it already is."""
    digest = digest or email_hash(email or "")
    exists = conn.execute(
        select(suppressions.c.id).where(suppressions.c.email_hash == digest)
    ).first()
    if exists is None:
        conn.execute(
            insert(suppressions).values(
                email_hash=digest, email=email, reason=reason, detail=detail, created_at=now
            )
        )


def record_event(
    conn: Connection,
    subscriber_id: int,
    kind: str,
    old: str | None,
    new: str | None,
    reason: str,
    now: dt.datetime,
) -> None:
    """One line of a subscriber's history: what changed, when and why."""
    conn.execute(
        insert(subscriber_events).values(
            subscriber_id=subscriber_id,
            kind=kind,
            old_status=old,
            new_status=new,
            reason=reason,
            created_at=now,
        )
    )
    subscriber_event(conn, subscriber_id, kind, old, new, reason, now)  # webhooks (issue 22)


def suppress_address(conn: Connection, normal: str, reason: str, detail: str,
                     now: dt.datetime) -> None:
    """Suppress the normalised address and, for a suppressed status, its subscriber too.

    Idempotent: an existing suppression is kept as is, a subscriber already in ``reason``
    gets no second event.
    """
    if suppression_key(conn, normal) is None:
        insert_suppression(conn, normal, reason, detail, now)
    if reason not in SUPPRESSED_STATUSES:
        return
    row = conn.execute(
        select(subscribers.c.id, subscribers.c.status)
        .where(subscribers.c.email == normal)
        .with_for_update()
    ).first()
    if row is not None and row.status != reason:
        conn.execute(
            update(subscribers).where(subscribers.c.id == row.id).values(status=reason,
                                                                        updated_at=now)
        )
        record_event(conn, row.id, "status", row.status, reason, detail or reason, now)
