"""Webhook endpoints and the delivery side of their outbox (issue 22).

Messages are written by ``webhook_outbox.emit`` with the change they tell of; here they are
claimed for an attempt (one conditional UPDATE per message: a lease until
``claimed_until``, so a worker that dies mid-delivery leaves it to another once the lease
runs out), then recorded as delivered, retried later, or given up on.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection
from typing import Any

from sqlalchemy import Row, and_, case, delete, func, insert, or_, select, update

from newsletter.clock import utc_now
from newsletter.model.webhooks import Endpoint, Message
from newsletter.store.base import Store
from newsletter.store.db import Database
from newsletter.store.tables_api import webhook_endpoints, webhook_messages


def _endpoint(row: Row[Any], pending: int = 0, failed: int = 0) -> Endpoint:
    return Endpoint(int(row.id), row.url, frozenset(row.events.split(",")), row.secret,
                    row.created_at, row.disabled_at, row.disabled_reason, pending, failed)


class WebhookStore(Store):
    """Endpoints and their messages; ``clock`` gives aware UTC times."""

    def __init__(self, db: Database, clock: Callable[[], dt.datetime] = utc_now) -> None:
        super().__init__(db)
        self.clock = clock

    # -- endpoints ---------------------------------------------------------------------

    def add(self, url: str, events: Collection[str], secret: str) -> Endpoint:
        """A new, enabled endpoint (the caller checked the URL and the events)."""
        with self.engine.begin() as conn:
            new_id = conn.execute(insert(webhook_endpoints).values(
                url=url, events=",".join(sorted(events)), secret=secret,
                created_at=self.clock(), disabled_reason="",
            ).returning(webhook_endpoints.c.id)).scalar_one()
        found = self.get(int(new_id))
        assert found is not None
        return found

    def get(self, endpoint_id: int) -> Endpoint | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(webhook_endpoints)
                               .where(webhook_endpoints.c.id == endpoint_id)).first()
        return _endpoint(row) if row else None

    def all(self) -> list[Endpoint]:
        """Every endpoint, oldest first, with how many messages wait and were given up."""
        messages = webhook_messages.c
        counts = (
            select(messages.endpoint_id,
                   func.sum(case((messages.status == "pending", 1), else_=0)).label("pending"),
                   func.sum(case((messages.status == "failed", 1), else_=0)).label("failed"))
            .group_by(messages.endpoint_id).subquery()
        )
        query = (select(webhook_endpoints, counts.c.pending, counts.c.failed)
                 .outerjoin(counts, counts.c.endpoint_id == webhook_endpoints.c.id)
                 .order_by(webhook_endpoints.c.id))
        with self.engine.connect() as conn:
            return [_endpoint(r, int(r.pending or 0), int(r.failed or 0))
                    for r in conn.execute(query)]

    def remove(self, endpoint_id: int) -> bool:
        """Delete the endpoint and its messages; whether it existed."""
        with self.engine.begin() as conn:
            conn.execute(delete(webhook_messages)
                         .where(webhook_messages.c.endpoint_id == endpoint_id))
            return bool(conn.execute(delete(webhook_endpoints)
                                     .where(webhook_endpoints.c.id == endpoint_id)).rowcount)

    def disable(self, endpoint_id: int, reason: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(webhook_endpoints).where(
                webhook_endpoints.c.id == endpoint_id, webhook_endpoints.c.disabled_at.is_(None),
            ).values(disabled_at=self.clock(), disabled_reason=reason[:2000]))

    def enable(self, endpoint_id: int) -> bool:
        """Enable it again; messages given up on are retried from now (for another 24 h
        counted from now). Whether it exists."""
        now = self.clock()
        with self.engine.begin() as conn:
            found = conn.execute(update(webhook_endpoints).where(
                webhook_endpoints.c.id == endpoint_id,
            ).values(disabled_at=None, disabled_reason="")).rowcount
            conn.execute(update(webhook_messages).where(
                webhook_messages.c.endpoint_id == endpoint_id,
                webhook_messages.c.status.in_(("pending", "failed")),
            ).values(status="pending", created_at=now, next_attempt_at=now, claimed_until=None))
        return bool(found)

    # -- messages ----------------------------------------------------------------------

    def claim(self, lease: dt.timedelta, limit: int = 50) -> list[Message]:
        """Due messages of enabled endpoints, each held for ``lease`` by this caller alone."""
        now = self.clock()
        m, e = webhook_messages.c, webhook_endpoints.c
        due = (
            select(m.id, m.endpoint_id, e.url, e.secret, m.message_id, m.event_type, m.payload,
                   m.attempts, m.created_at)
            .join(webhook_endpoints, e.id == m.endpoint_id)
            .where(m.status == "pending", m.next_attempt_at <= now, e.disabled_at.is_(None),
                   or_(m.claimed_until.is_(None), m.claimed_until <= now))
            .order_by(m.next_attempt_at, m.id).limit(limit)
        )
        taken: list[Message] = []
        with self.engine.connect() as conn:
            rows = conn.execute(due).all()
        for row in rows:
            with self.engine.begin() as conn:
                won = conn.execute(update(webhook_messages).where(
                    m.id == row.id, m.status == "pending",
                    or_(m.claimed_until.is_(None), m.claimed_until <= now),
                ).values(claimed_until=now + lease)).rowcount
            if won:
                taken.append(Message(int(row.id), int(row.endpoint_id), row.url, row.secret,
                                     row.message_id, row.event_type, row.payload,
                                     int(row.attempts), row.created_at))
        return taken

    def delivered(self, row_id: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(webhook_messages).where(webhook_messages.c.id == row_id).values(
                status="delivered", delivered_at=self.clock(), claimed_until=None,
                attempts=webhook_messages.c.attempts + 1, last_error=""))

    def retry(self, row_id: int, at: dt.datetime, error: str) -> None:
        """The attempt failed: try again at ``at``."""
        with self.engine.begin() as conn:
            conn.execute(update(webhook_messages).where(webhook_messages.c.id == row_id).values(
                next_attempt_at=at, claimed_until=None, last_error=error[:2000],
                attempts=webhook_messages.c.attempts + 1))

    def give_up(self, row_id: int, endpoint_id: int, error: str, reason: str) -> None:
        """The message failed for good, and its endpoint is disabled with ``reason``."""
        now = self.clock()
        with self.engine.begin() as conn:
            conn.execute(update(webhook_messages).where(webhook_messages.c.id == row_id).values(
                status="failed", claimed_until=None, last_error=error[:2000],
                attempts=webhook_messages.c.attempts + 1))
            conn.execute(update(webhook_endpoints).where(and_(
                webhook_endpoints.c.id == endpoint_id, webhook_endpoints.c.disabled_at.is_(None),
            )).values(disabled_at=now, disabled_reason=reason[:2000]))

    def messages(self, endpoint_id: int) -> list[tuple[str, str, str, int, str]]:
        """(message id, event type, status, attempts, last error) of an endpoint, oldest
        first (for tests and the desk)."""
        m = webhook_messages.c
        with self.engine.connect() as conn:
            return [(r.message_id, r.event_type, r.status, int(r.attempts), r.last_error)
                    for r in conn.execute(select(webhook_messages)
                                          .where(m.endpoint_id == endpoint_id).order_by(m.id))]

    def prune(self, before: dt.datetime) -> int:
        """Forget messages delivered before ``before``; how many."""
        with self.engine.begin() as conn:
            return int(conn.execute(delete(webhook_messages).where(
                webhook_messages.c.status == "delivered",
                webhook_messages.c.delivered_at < before,
            )).rowcount)
