"""The poller's pipeline (``newsletter.feedback.sqs.poll``) against an in-memory queue: what
it applies together, when it deletes, and how it stops on a failure."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Sequence

import pytest
from sqlalchemy import func, select

from newsletter.errors import QueueError
from newsletter.feedback.apply import Feedback
from newsletter.feedback.sqs import GROUP, QueueMessage, poll
from newsletter.store.db import Database, open_database
from newsletter.store.events import ApplyResult, EventStore, Received
from newsletter.store.tables import ses_events


def body(n: int) -> str:
    return json.dumps({"eventType": "Send", "send": {},
                       "mail": {"messageId": f"ses-{n}", "destination": [f"r{n}@example.org"]}})


class MemoryQueue:
    """A queue of ``count`` raw SES events; receives take ``latency`` seconds, like SQS."""

    def __init__(self, count: int, latency: float = 0.005, db: Database | None = None,
                 fail_delete: bool = False) -> None:
        self.waiting = [QueueMessage(body(n), f"r-{n}") for n in range(count)]
        self.latency = latency
        self.db = db
        self.fail_delete = fail_delete
        self.deleted: list[str] = []
        self.unapplied_at_delete: list[str] = []
        self._lock = threading.Lock()

    def receive(self, wait_seconds: int) -> list[QueueMessage]:
        time.sleep(self.latency)
        with self._lock:
            batch, self.waiting = self.waiting[:10], self.waiting[10:]
        return batch

    def delete(self, receipts: Sequence[str]) -> None:
        if self.fail_delete:
            raise QueueError("SQS said no")
        if self.db is not None:  # every deleted message's event must be committed
            with self.db.engine.connect() as conn:
                stored = set(conn.execute(select(ses_events.c.ses_message_id)).scalars())
            self.unapplied_at_delete += [r for r in receipts
                                         if f"ses-{r.removeprefix('r-')}" not in stored]
        with self._lock:
            self.deleted += receipts


class Slow:
    """The real store, each apply taking ``delay`` more seconds; records the group sizes."""

    def __init__(self, store: EventStore, delay: float = 0.02, fail_on: int = 0) -> None:
        self.store = store
        self.delay = delay
        self.fail_on = fail_on
        self.sizes: list[int] = []

    def apply(self, batch: Sequence[Received]) -> ApplyResult:
        self.sizes.append(len(batch))
        if len(self.sizes) == self.fail_on:
            raise OSError("the database went away")
        time.sleep(self.delay)
        return self.store.apply(batch)


@pytest.fixture
def db(migrated_sqlite: Callable[[str], str]) -> Database:
    return open_database(migrated_sqlite("p.db"))


def stored(db: Database) -> int:
    with db.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(ses_events)).scalar_one())


@pytest.mark.slow
def test_what_arrives_while_a_group_is_applied_forms_the_next_group(db: Database) -> None:
    """With 8 receivers and a slow database, received batches pile up and are applied
    together (more than 10 events a transaction, never more than GROUP batches); every
    event is applied once and deleted only after its transaction committed."""
    queue = MemoryQueue(600, db=db)
    sink = Slow(EventStore(db))
    result = poll(queue, Feedback(sink, None), once=True, wait=0, receivers=8)
    assert (result.received, result.applied, result.kept) == (600, 600, 0)
    assert stored(db) == 600
    assert sorted(queue.deleted) == sorted(f"r-{n}" for n in range(600))
    assert queue.unapplied_at_delete == []
    assert max(sink.sizes) > 10 and max(sink.sizes) <= GROUP * 10
    assert len(sink.sizes) < 60  # fewer transactions than batches


def test_a_failed_apply_stops_the_poller_and_deletes_nothing_it_held(db: Database) -> None:
    """The second transaction fails: the error is raised, the receivers stop, and no message
    of the failed group is deleted (SQS will deliver them again)."""
    queue = MemoryQueue(2000, db=db)
    sink = Slow(EventStore(db), fail_on=2)
    with pytest.raises(OSError, match="went away"):
        poll(queue, Feedback(sink, None), once=True, wait=0, receivers=4)
    assert queue.unapplied_at_delete == []
    assert len(queue.deleted) == stored(db) < 2000
    assert len(queue.waiting) > 0  # the receivers stopped instead of draining the queue


def test_a_failed_delete_stops_the_poller(db: Database) -> None:
    """A delete SQS refuses is raised (the events stay applied: a redelivery is a duplicate)."""
    queue = MemoryQueue(50, fail_delete=True)
    with pytest.raises(QueueError, match="SQS said no"):
        poll(queue, Feedback(EventStore(db), None), once=True, wait=0, receivers=2)
    assert stored(db) > 0


@pytest.mark.slow
def test_stop_ends_the_poller_after_applying_what_was_received(db: Database) -> None:
    """A signal (``stop``) ends the loops; what was received by then is applied and deleted."""
    queue = MemoryQueue(100_000, latency=0.01)
    stop = threading.Event()
    threading.Timer(0.3, stop.set).start()
    result = poll(queue, Feedback(EventStore(db), None), wait=0, stop=stop, receivers=4)
    assert 0 < result.applied == stored(db) == len(queue.deleted) < 100_000
