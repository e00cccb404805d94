"""The queue of web sign-ups waiting to be handled (``signup_queue``), in the database.

A sign-up is answered "check your inbox" only once its row is committed here; the sign-up
thread of any ``serve`` process takes the oldest row on a lease, handles it and deletes it.
A process that dies holding a lease leaves the row to be taken again when the lease ends
(handling one twice sends one email: the workflow sends at most one per ten minutes).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import delete, func, insert, literal, or_, select, update

from newsletter.clock import utc_now
from newsletter.store.base import Store
from newsletter.store.db import Database
from newsletter.store.tables import UTCDateTime
from newsletter.store.tables_activity import signup_queue

LEASE = dt.timedelta(seconds=30)  # a sign-up takes well under a second
Queued = Literal["queued", "source_full", "full"]


@dataclass(frozen=True)
class QueuedSignup:
    id: int
    email: str
    categories: frozenset[str]
    language: str


class SignupQueueStore(Store):
    """The ``signup_queue`` table; ``clock`` gives aware UTC times."""

    def __init__(self, db: Database, clock: Callable[[], dt.datetime] = utc_now) -> None:
        super().__init__(db)
        self.clock = clock

    def add(self, email: str, categories: frozenset[str], language: str, source: str, *,
            per_source: int, size: int) -> Queued:
        """Queue a sign-up unless ``source`` already has ``per_source`` waiting
        ("source_full") or the queue holds ``size`` ("full")."""
        q = signup_queue.c
        mine = (select(func.count()).select_from(signup_queue).where(q.source == source[:64])
                .correlate(None).scalar_subquery())
        everyone = select(func.count()).select_from(signup_queue).correlate(None).scalar_subquery()
        # One statement, so that SQLite takes its write lock at once (a read before the
        # write would deadlock two writers into "database is locked").
        row = select(literal(email), literal(",".join(sorted(categories))), literal(language),
                     literal(source[:64]), literal(self.clock(), UTCDateTime())).where(
            mine < per_source, everyone < size)
        with self.engine.begin() as conn:
            added = conn.execute(insert(signup_queue).from_select(
                ["email", "categories", "language", "source", "created_at"], row)
                .returning(q.id)).first()
            if added is not None:
                return "queued"
            full = conn.execute(select(func.count()).where(q.source == source[:64])).scalar_one()
        return "source_full" if full >= per_source else "full"

    def take(self) -> QueuedSignup | None:
        """The oldest sign-up no other process holds, leased to this one; None if none."""
        q = signup_queue.c
        now = self.clock()
        free = or_(q.taken_until.is_(None), q.taken_until < now)
        oldest = select(q.id).where(free).order_by(q.id).limit(1).scalar_subquery()
        # One statement (see ``add``); ``free`` again, so two processes never both win it.
        with self.engine.begin() as conn:
            row = conn.execute(
                update(signup_queue).where(q.id == oldest, free)
                .values(taken_until=now + LEASE)
                .returning(q.id, q.email, q.categories, q.language)
            ).first()
        if row is None:
            return None
        categories = frozenset(c for c in str(row.categories).split(",") if c)
        return QueuedSignup(int(row.id), str(row.email), categories, str(row.language))

    def done(self, signup_id: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(signup_queue).where(signup_queue.c.id == signup_id))

    def waiting(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(signup_queue)).scalar_one())
