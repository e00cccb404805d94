"""The SQS poller: long-poll a queue of SES events, apply them, delete what was applied.

For operators who cannot expose a public webhook, and for volume. The queue is reached
through the small :class:`Queue` protocol; :class:`SqsQueue` is the boto3 one. A message
is deleted only after the batch holding it was applied and committed; one that cannot be
verified or read is left in the queue (its redrive policy moves it to a dead-letter queue),
so nothing is lost by a bad message or a crash.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from queue import SimpleQueue
from typing import TYPE_CHECKING, Any, Protocol

from newsletter.clock import utc_now
from newsletter.errors import DatabaseError, QueueError
from newsletter.model.outages import OutageBackoff

if TYPE_CHECKING:  # the pipeline is handed in; `newsletter --help` need not load it
    from newsletter.feedback.apply import Feedback

log = logging.getLogger(__name__)
BATCH = 10  # SQS's most messages per ReceiveMessage
# Concurrent receive -> apply -> delete loops. SQS answers in tens of milliseconds, so each
# loop spends most of its time waiting; 8 of them apply about 2,000 events a second at
# 20 ms per call (bench/events.py), several senders' worth.
RECEIVERS = 8
GROUP = 10  # received batches applied in one transaction, at most (100 events)


@dataclass(frozen=True)
class QueueMessage:
    body: str
    receipt: str


class DeadLetterSink(Protocol):
    def add(self, source: str, letters: Sequence[tuple[str, str]]) -> None:
        """Store ``(body, reason)`` pairs; raise if they could not be stored."""
        ...


class Queue(Protocol):
    def receive(self, wait_seconds: int) -> list[QueueMessage]: ...

    def delete(self, receipts: Sequence[str]) -> None: ...


class SqsQueue:
    """One SQS queue through boto3; botocore errors become :class:`QueueError`."""

    def __init__(self, client: Any, url: str) -> None:
        self.client = client
        self.url = url

    def receive(self, wait_seconds: int) -> list[QueueMessage]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            answer: Any = self.client.receive_message(
                QueueUrl=self.url, MaxNumberOfMessages=BATCH, WaitTimeSeconds=wait_seconds
            )
        except (BotoCoreError, ClientError) as err:
            raise QueueError(f"cannot read the SQS queue {self.url}: {err}") from err
        return [
            QueueMessage(str(m.get("Body", "")), str(m["ReceiptHandle"]))
            for m in answer.get("Messages", [])
        ]

    def delete(self, receipts: Sequence[str]) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        if not receipts:
            return
        entries: Any = [{"Id": str(i), "ReceiptHandle": r} for i, r in enumerate(receipts)]
        try:
            answer: Any = self.client.delete_message_batch(QueueUrl=self.url, Entries=entries)
        except (BotoCoreError, ClientError) as err:
            raise QueueError(f"SQS queue {self.url}: the applied messages were not "
                             f"removed: {err}") from err
        for failed in answer.get("Failed", []):
            # Applied already; a second delivery of it will be a duplicate and change nothing.
            log.warning("SQS did not delete a message: %s", failed.get("Message", failed))


@dataclass
class PollResult:
    received: int = 0
    applied: int = 0
    duplicates: int = 0
    kept: int = 0  # left in the queue, to be tried again (or with no dead-letter store)
    dead_lettered: int = 0  # set aside with the reason (``dead_letters``), then deleted
    confirmed: int = 0
    suppressed: int = 0

    def add(self, other: PollResult) -> None:
        for name, value in vars(other).items():
            setattr(self, name, getattr(self, name) + value)


def keep_polling(
    queue: Queue,
    feedback: Feedback,
    *,
    stop: threading.Event,
    wait: int = 20,
    report: Callable[[str], None] = log.warning,
    receivers: int = RECEIVERS,
    backoff: OutageBackoff | None = None,
    dead_letters: DeadLetterSink | None = None,
    on_drained: Callable[[dt.datetime], None] | None = None,
) -> PollResult:
    """:func:`poll` until ``stop``, through outages: when the queue or the database fails,
    one line to ``report`` says so and polling starts again after the pauses of
    ``backoff``. Nothing is lost meanwhile: what was received but not applied is not
    deleted, so SQS delivers it again.
    """
    total = PollResult()
    outage = backoff or OutageBackoff()
    while not stop.is_set():
        try:
            total.add(poll(queue, feedback, wait=wait, stop=stop, report=report,
                           receivers=receivers, dead_letters=dead_letters,
                           on_drained=on_drained))
        except (QueueError, DatabaseError) as err:
            delay = outage.failed()
            report(f"events poll: {err}; trying again in {delay:g} s")
            stop.wait(delay)
    return total


def poll(
    queue: Queue,
    feedback: Feedback,
    *,
    once: bool = False,
    wait: int = 20,
    stop: threading.Event | None = None,
    report: Callable[[str], None] | None = None,
    receivers: int = RECEIVERS,
    dead_letters: DeadLetterSink | None = None,
    on_drained: Callable[[dt.datetime], None] | None = None,
) -> PollResult:
    """Receive, apply and delete until stopped (with ``once``: until the queue is empty).

    A pipeline: ``receivers`` threads each long-poll for up to 10 messages (SQS takes tens
    of milliseconds to answer, so one thread alone would mostly wait); this thread applies
    whatever they have received meanwhile (up to ``GROUP`` batches; see
    ``Feedback.from_queue``: in one transaction, each bad message set aside alone),
    then hands the deletes to other threads and applies the next group. A message is
    deleted only after the transaction holding it committed. The first failure stops
    everything and is raised; what was received but not applied is not deleted, so SQS
    delivers it again. A message that cannot be used is stored in ``dead_letters`` with
    the reason, then deleted (left in the queue, for its redrive policy, without one).
    """
    stop = stop or threading.Event()
    halted = threading.Event()  # a failure: every loop of this call ends
    receivers = max(1, receivers)
    inbox: SimpleQueue[list[QueueMessage] | None] = SimpleQueue()
    room = threading.Semaphore(2 * receivers)  # received batches not yet applied, at most
    failures: list[BaseException] = []

    def fail(err: BaseException) -> None:
        failures.append(err)
        halted.set()

    def receive_loop() -> None:
        try:
            while not (stop.is_set() or halted.is_set()):
                while not room.acquire(timeout=0.1):
                    if stop.is_set() or halted.is_set():
                        return
                asked = utc_now()
                messages = queue.receive(wait)
                if messages:
                    inbox.put(messages)
                    continue
                if on_drained is not None:  # the event feed is current up to ``asked``
                    on_drained(asked)
                room.release()
                if once:
                    return
        except BaseException as err:  # stop the others; raised below
            fail(err)
        finally:
            inbox.put(None)  # this receiver is done

    total = PollResult()
    threads = [threading.Thread(target=receive_loop, name=f"receiver-{n}", daemon=True)
               for n in range(receivers)]
    for thread in threads:
        thread.start()
    with ThreadPoolExecutor(receivers, thread_name_prefix="delete") as deleter:
        deletes: list[Future[None]] = []
        running = receivers
        while running:
            group: list[list[QueueMessage]] = []
            item = inbox.get()
            while True:
                if item is None:
                    running -= 1
                else:
                    group.append(item)
                if len(group) >= GROUP or inbox.empty():
                    break
                item = inbox.get()
            if not group:
                continue
            if failures:  # not applied, not deleted: SQS delivers them again
                for _ in group:
                    room.release()
                continue
            try:
                messages = [m for batch in group for m in batch]
                judged = feedback.from_queue([m.body for m in messages])
                done, result = judged.done, judged.result
                if judged.dead and dead_letters is not None:
                    dead_letters.add("sqs", [(messages[i].body, why)
                                             for i, why in sorted(judged.dead.items())])
                elif judged.dead:  # nowhere to set them aside: left for the queue's redrive
                    for i in judged.dead:
                        done[i] = False
            except BaseException as err:
                fail(err)
                for _ in group:
                    room.release()
                continue
            start = 0
            for batch in group:
                flags = done[start:start + len(batch)]
                start += len(batch)
                deletes.append(deleter.submit(
                    queue.delete, [m.receipt for m, ok in zip(batch, flags, strict=True) if ok]))
                room.release()
            total.received += len(messages)
            total.applied += result.stored
            total.duplicates += result.duplicates + result.replayed
            total.kept += done.count(False)
            if dead_letters is not None:
                total.dead_lettered += len(judged.dead)
            if report is not None:
                for _, why in sorted(judged.dead.items()):
                    report(f"set aside as a dead letter: {why}")
            total.confirmed += result.confirmed
            total.suppressed += result.suppressed
            if report is not None:
                for reason in result.paused:
                    report(f"paused a campaign: {reason}")
            deletes = [f for f in deletes if not _finished(f, fail)]
        for future in deletes:
            _finished(future, fail, block=True)
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]
    return total


def _finished(future: Future[None], fail: Callable[[BaseException], None],
              block: bool = False) -> bool:
    """Whether a delete is over; its failure, if any, goes to ``fail``."""
    if not block and not future.done():
        return False
    err = future.exception()
    if err is not None:
        fail(err)
    return True
