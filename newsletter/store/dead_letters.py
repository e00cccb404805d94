"""Dead letters: queue messages set aside because they could not be used, with why.

The SQS poller deletes such a message from the queue only after it is stored here, so
nothing is lost, and a bad message never holds up (or takes down) the good ones around it.
``newsletter events dead-letters`` lists them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import func, insert, select

from newsletter.clock import utc_now
from newsletter.store.base import Store
from newsletter.store.db import Database
from newsletter.store.tables_activity import dead_letters

MAX_REASON = 2000


@dataclass(frozen=True)
class DeadLetter:
    id: int
    source: str
    reason: str
    body: bytes
    received_at: dt.datetime


class DeadLetterStore(Store):
    """The ``dead_letters`` table; ``clock`` gives aware UTC times."""

    def __init__(self, db: Database, clock: Callable[[], dt.datetime] = utc_now) -> None:
        super().__init__(db)
        self.clock = clock

    def add(self, source: str, letters: Sequence[tuple[str, str]]) -> None:
        """Store ``(body, reason)`` pairs from ``source`` in one transaction."""
        if not letters:
            return
        now = self.clock()
        rows = [{"source": source, "received_at": now,
                 # PostgreSQL's text cannot hold NUL; the body (bytes) keeps everything.
                 "reason": reason.replace("\x00", "\\x00")[:MAX_REASON],
                 "body": body.encode("utf-8", "surrogatepass")}
                for body, reason in letters]
        with self.engine.begin() as conn:
            conn.execute(insert(dead_letters), rows)

    def count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(dead_letters)).scalar_one())

    def recent(self, limit: int = 50) -> list[DeadLetter]:
        """The newest ``limit`` dead letters, newest first."""
        query = select(dead_letters).order_by(dead_letters.c.id.desc()).limit(limit)
        with self.engine.connect() as conn:
            return [DeadLetter(int(r.id), str(r.source), str(r.reason), bytes(r.body),
                               r.received_at) for r in conn.execute(query)]
