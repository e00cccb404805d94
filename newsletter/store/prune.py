"""Old SES event rows removed in small batches, so that sending is never held up.

Every event's effect is applied when it arrives (``store/rollup.py``, the suppressions);
its row stays only so that the same event arriving again is known. After the retention
period (``NEWSLETTER_EVENT_RETENTION_DAYS``) rows are deleted, except bounces and
complaints, whose payloads are kept for good (what a mailbox provider said, and why an
address is suppressed). Each batch is its own short transaction on rows found through the
primary key, walking upwards from the last batch, so no lock is held for long and no row
of ``deliveries`` is touched.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import delete, func, select

from newsletter.store.base import Store
from newsletter.store.tables import ses_events

KEPT_KINDS = ("bounce", "complaint")
BATCH = 5000


@dataclass(frozen=True)
class Pruned:
    deleted: int
    batches: int
    kept: int = 0  # (dry run) rows older than the cutoff kept for good: bounces, complaints


class EventPruner(Store):
    """Deletes ``ses_events`` rows past retention, bounces and complaints excepted."""

    def prune(self, before: dt.datetime, batch: int = BATCH, pause: float = 0.0,
              dry_run: bool = False,
              progress: Callable[[int], None] | None = None) -> Pruned:
        """Delete rows received before ``before``; ``pause`` seconds between batches."""
        e = ses_events.c
        old = (e.received_at < before) & e.kind.not_in(KEPT_KINDS)
        if dry_run:  # what a prune would delete and keep: counted, not deleted
            with self.engine.connect() as conn:
                kept = conn.execute(select(func.count()).select_from(ses_events).where(
                    e.received_at < before, e.kind.in_(KEPT_KINDS))).scalar_one()
                n = conn.execute(select(func.count()).select_from(ses_events).where(old))
                return Pruned(int(n.scalar_one()), 0, int(kept))
        deleted = batches = 0
        last = 0
        while True:
            with self.engine.begin() as conn:
                ids = list(conn.execute(
                    select(e.id).where(e.id > last, old).order_by(e.id).limit(batch)
                ).scalars())
                if not ids:
                    break
                deleted += conn.execute(delete(ses_events).where(e.id.in_(ids))).rowcount
            batches += 1
            last = int(ids[-1])
            if progress is not None:
                progress(deleted)
            if len(ids) < batch:
                break
            if pause:
                time.sleep(pause)
        return Pruned(deleted, batches)
