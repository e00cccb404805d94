"""The engine's recorder: one thread writes the senders' outcomes in batches.

Senders put each outcome (a bulk sender: each call's outcomes at once) on a queue; the
recorder takes whatever has gathered (up to 500 outcomes)
and writes it in one transaction ("group commit"), then counts it in the run's result and
on the progress sink. ``None`` on the queue ends it.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable

from newsletter.model.campaigns import DeliveryResult
from newsletter.sending.plan import DeliveryStore, ProgressSink, RunResult

BATCH = 500


class Recorder:
    """Writes outcomes for ``worker_id``; a write that fails calls ``halt`` once with why."""

    def __init__(
        self, store: DeliveryStore, worker_id: str, result: RunResult, lock: threading.Lock,
        halt: Callable[[str], None], progress: ProgressSink | None,
    ) -> None:
        self.store = store
        self.worker_id = worker_id
        self.result = result
        self.lock = lock
        self.halt = halt
        self.progress = progress
        self.outcomes: queue.Queue[list[DeliveryResult] | None] = queue.Queue()

    def put(self, outcome: DeliveryResult | None) -> None:
        self.outcomes.put(None if outcome is None else [outcome])

    def put_many(self, outcomes: list[DeliveryResult]) -> None:
        """A call's outcomes in one queue item (issue #23: a queue item per reader cost more
        than its share of the write)."""
        if outcomes:
            self.outcomes.put(outcomes)

    def loop(self) -> None:
        finished = False
        while not finished:
            batch: list[DeliveryResult] = []
            item = self.outcomes.get()
            while True:
                if item is None:
                    finished = True
                else:
                    batch.extend(item)
                if finished or len(batch) >= BATCH:
                    break
                try:
                    item = self.outcomes.get_nowait()
                except queue.Empty:
                    break
            self._write(batch)

    def _write(self, batch: list[DeliveryResult]) -> None:
        if not batch:
            return
        try:
            self.store.record(self.worker_id, batch)
        except Exception as err:
            # Outcomes we cannot write stay ``sending`` in the table: in doubt on the next
            # run, never sent twice. Stop: sending on without recording would be blind.
            with self.lock:
                self.result.error = self.result.error or f"cannot record results: {err}"
            self.halt("the results could not be recorded")
            return
        for outcome in batch:
            self._count(outcome)

    def _count(self, outcome: DeliveryResult) -> None:
        if outcome.status == "sent":
            self.result.sent += 1
        elif outcome.status == "failed":
            self.result.failed += 1
        elif outcome.status == "in_doubt":
            self.result.in_doubt += 1
        elif outcome.not_before is not None:
            self.result.deferred += 1
        if self.progress is not None and (outcome.status != "queued" or outcome.not_before):
            self.progress.advance("deferred" if outcome.status == "queued" else outcome.status)
