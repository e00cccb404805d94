"""The welcome emails' outbox: one row per reader, written with their confirmation.

:func:`queue_welcome` runs inside the transaction that makes a reader active, so a crash
after the confirmation cannot lose the welcome; :class:`WelcomeStore` hands each queued row
to one sender alone (a conditional UPDATE), so the web app and any number of workers
draining the outbox at once send it once. A row claimed by a process that died while
handing it to the transport stays ``sending``: it is not sent again (at most once within
that window; a second welcome is worse than none).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from sqlalchemy import Connection, insert, select, update

from newsletter.clock import utc_now
from newsletter.store.base import Store
from newsletter.store.db import Database
from newsletter.store.tables_api import welcome_emails


def queue_welcome(conn: Connection, subscriber_id: int, now: dt.datetime) -> bool:
    """Queue the reader's welcome unless they ever had one; whether it was queued."""
    known = conn.execute(
        select(welcome_emails.c.status).where(welcome_emails.c.subscriber_id == subscriber_id)
    ).first()
    if known is not None:
        return False
    conn.execute(insert(welcome_emails).values(
        subscriber_id=subscriber_id, status="queued", created_at=now, error="",
    ))
    return True


class WelcomeStore(Store):
    """Claims and records welcome emails; ``clock`` gives aware UTC times."""

    def __init__(self, db: Database, clock: Callable[[], dt.datetime] = utc_now) -> None:
        super().__init__(db)
        self.clock = clock

    def queued(self, limit: int = 100) -> list[int]:
        """The subscriber ids of queued welcomes, oldest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(welcome_emails.c.subscriber_id)
                .where(welcome_emails.c.status == "queued")
                .order_by(welcome_emails.c.created_at, welcome_emails.c.subscriber_id)
                .limit(limit)
            ).scalars().all()
        return [int(r) for r in rows]

    def claim(self, subscriber_id: int) -> bool:
        """Take the queued welcome of ``subscriber_id`` for sending; False when there is
        none or another sender has it."""
        with self.engine.begin() as conn:
            return bool(conn.execute(
                update(welcome_emails)
                .where(welcome_emails.c.subscriber_id == subscriber_id,
                       welcome_emails.c.status == "queued")
                .values(status="sending", claimed_at=self.clock())
            ).rowcount)

    def finish(self, subscriber_id: int, status: str, error: str = "") -> None:
        """Record the end of a claimed welcome: ``sent`` or ``skipped`` (with why)."""
        values: dict[str, object] = {"status": status, "error": error[:2000]}
        if status == "sent":
            values["sent_at"] = self.clock()
        with self.engine.begin() as conn:
            conn.execute(update(welcome_emails)
                         .where(welcome_emails.c.subscriber_id == subscriber_id)
                         .values(**values))

    def release(self, subscriber_id: int, error: str) -> None:
        """Put a claimed welcome back (the transport refused it): the next drain retries."""
        with self.engine.begin() as conn:
            conn.execute(update(welcome_emails)
                         .where(welcome_emails.c.subscriber_id == subscriber_id,
                                welcome_emails.c.status == "sending")
                         .values(status="queued", claimed_at=None, error=error[:2000]))

    def status(self, subscriber_id: int) -> str | None:
        """The welcome's state (queued, sending, sent, skipped), or None: never queued."""
        with self.engine.connect() as conn:
            found = conn.execute(
                select(welcome_emails.c.status)
                .where(welcome_emails.c.subscriber_id == subscriber_id)
            ).scalar()
        return None if found is None else str(found)
