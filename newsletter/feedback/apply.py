"""The one pipeline SES events go through, whichever way they arrive.

The webhook hands it an SNS POST body; the SQS poller hands it a batch of queue message
bodies (SNS envelopes, or SES's JSON itself when the subscription uses raw delivery).
Both end in ``EventSink.apply``: verified, normalised to ``SesEvent``, stored once,
applied (see ``newsletter.store.events``).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Literal, Protocol

from newsletter.clock import utc_now
from newsletter.errors import (
    CertificateUnavailableError,
    DatabaseError,
    DatabaseUnavailableError,
    NewsletterError,
    SesEventError,
    WebhookError,
)
from newsletter.feedback.ses_events import (
    event_from,
    is_ses_event,
    load_json_object,
    parse_ses_event,
)
from newsletter.feedback.sns import (
    MAX_AGE,
    CertificateCache,
    CertificateNotCached,
    Fetcher,
    SnsMessage,
    verify_sns,
)
from newsletter.store.events import ApplyResult, Received

log = logging.getLogger(__name__)
MAX_GROUP = 200  # requests applied in one transaction, at most
# Webhook bodies up to this size are verified on the event loop (well under a millisecond);
# bigger ones, which anyone may post, in BIG_BODY_THREADS threads of their own.
ON_LOOP_BYTES = 16 * 1024
BIG_BODY_THREADS = 2
LINGER = 0.002  # seconds a group may wait for the last cycle's callers to come back
# SQS keeps a message up to 14 days; a verified envelope that waited in our own queue is
# not a replay (the queue policy decides who may write to it), so it is not refused as
# stale within that time. The webhook, reachable by anyone, keeps the one-hour limit.
QUEUE_MAX_AGE = dt.timedelta(days=14)


# Failures of applying that may be one message's fault (the database refusing a value),
# rather than the database's or the machine's (DatabaseUnavailableError, OSError).
DATA_FAULTS = (DatabaseError, ValueError, TypeError, KeyError)


class EventSink(Protocol):
    def apply(self, batch: Sequence[Received]) -> ApplyResult:
        """Store and apply ``batch`` in one transaction; ``fates`` has one entry per item."""
        ...


class GroupCommit:
    """Applies the events of concurrent webhook requests together, off the event loop.

    The webhook gets one event per request; a transaction per event would cap it at the
    database's commit rate, and a worker thread per request costs more than the work. A
    request hands its event here and awaits; while one group is being applied in a worker
    thread, the events of the requests arriving meanwhile wait to form the next group (as
    the engine's recorder does for delivery outcomes). Counts in a result are the group's;
    its ``fates`` are the caller's own. The groups are applied by a thread of its own, so
    certificate fetches waiting on the network never delay them; one group at a time
    (applying two at once on PostgreSQL was slower: the work is CPU). A group may wait up to
    ``linger`` seconds for the callers of the last cycle, who are sending their next
    requests: else the callers split into two halves committed in turn.
    """

    def __init__(self, sink: EventSink, linger: float = LINGER) -> None:
        self.sink = sink
        self.linger = linger
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="group-commit")
        self._pending: list[tuple[Sequence[Received], asyncio.Future[ApplyResult]]] = []
        self._drainer: asyncio.Task[None] | None = None
        self._wanted = 0
        self._arrived = asyncio.Event()

    async def apply(self, batch: Sequence[Received]) -> ApplyResult:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[ApplyResult] = loop.create_future()
        self._pending.append((batch, future))
        if self._wanted and len(self._pending) >= self._wanted:
            self._arrived.set()
        if self._drainer is None:
            self._drainer = loop.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        busy = 0  # requests in the last cycle: the group applied and those that waited
        self._arrived = asyncio.Event()  # of this event loop (a test may run several)
        try:
            while self._pending:
                if len(self._pending) < busy and self.linger > 0:
                    # The last group's callers are about to send their next requests:
                    # wait a moment for them, so that the next group holds everyone
                    # instead of groups alternating between two halves of the callers.
                    self._wanted = busy
                    self._arrived.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._arrived.wait(), self.linger)
                    self._wanted = 0
                work, self._pending = self._pending[:MAX_GROUP], self._pending[MAX_GROUP:]
                try:
                    result = await asyncio.get_running_loop().run_in_executor(
                        self._thread, self.sink.apply, [i for batch, _ in work for i in batch]
                    )
                except BaseException as err:  # every caller of the group gets the failure
                    if _data_fault(err) and len(work) > 1:
                        # Maybe one request's event (a NUL on PostgreSQL): each alone, so a
                        # bad one never takes the others with it (issue 25).
                        await self._one_by_one(work)
                        continue
                    for _, future in work:
                        if not future.done():
                            future.set_exception(err)
                    if not isinstance(err, Exception):
                        raise
                    continue
                busy = min(len(work) + len(self._pending), MAX_GROUP)
                start = 0
                for batch, future in work:
                    end = start + len(batch)
                    if not future.done():  # its request may have been cancelled
                        future.set_result(replace(result, fates=result.fates[start:end]))
                    start = end
        finally:
            # In the same step as the last look at ``_pending``: a caller arriving after
            # it always starts a new drainer.
            self._drainer = None


    async def _one_by_one(
        self, work: list[tuple[Sequence[Received], asyncio.Future[ApplyResult]]]
    ) -> None:
        loop = asyncio.get_running_loop()
        for batch, future in work:
            try:
                result = await loop.run_in_executor(self._thread, self.sink.apply, list(batch))
            except Exception as err:
                if not future.done():
                    future.set_exception(err)
            else:
                if not future.done():
                    future.set_result(result)


def _data_fault(err: BaseException) -> bool:
    return isinstance(err, DATA_FAULTS) and not isinstance(err, DatabaseUnavailableError)


class SnsVerifier:
    """Verifies SNS envelopes from our topics with certificates from ``fetch`` (cached)."""

    def __init__(self, fetch: Fetcher, topics: frozenset[str], test_cert_host: str | None = None,
                 clock: Callable[[], dt.datetime] = utc_now) -> None:
        self.certificates = CertificateCache(fetch)
        self.topics = topics
        self.test_cert_host = test_cert_host
        self.clock = clock

    def verify(self, body: bytes | str | dict[str, object],
               max_age: dt.timedelta = MAX_AGE, *, fetch: bool = True) -> SnsMessage:
        """A verified message; ``WebhookError`` for anything doubtful.

        With ``fetch=False`` a certificate not fetched before raises ``CertificateNotCached``
        instead of being fetched: an event loop verifies without waiting for the network.
        """
        certificates = self.certificates if fetch else self.certificates.cached
        return verify_sns(body, certificates, self.topics, self.clock(),
                          test_cert_host=self.test_cert_host, max_age=max_age)


@dataclass
class FeedbackOutcome:
    """What the pipeline made of one incoming message."""

    status: Literal["applied", "duplicate", "replayed", "subscribe", "ignored"]
    detail: str = ""
    subscribe_url: str | None = None
    result: ApplyResult = field(default_factory=ApplyResult)


class Feedback:
    """Verify, normalise, apply. ``verifier`` is None when no SNS topic is configured."""

    def __init__(self, sink: EventSink, verifier: SnsVerifier | None) -> None:
        self.sink = sink
        self.verifier = verifier

    def check_webhook(self, body: bytes, *, fetch: bool = True) -> FeedbackOutcome | Received:
        """An SNS POST body, verified and read: the event to apply, or the outcome of a
        message that carries none. Raises ``WebhookError`` when it must be refused (403);
        with ``fetch=False``, ``CertificateNotCached`` when verifying needs the network.
        """
        if self.verifier is None:
            raise WebhookError("no SNS topic is configured")
        message = self.verifier.verify(body, fetch=fetch)
        outcome = _screen(message)
        if outcome is not None:
            return outcome
        try:
            event = parse_ses_event(message.message)
        except SesEventError as err:
            # Retrying will not make it parse; acknowledge so SNS does not resend it.
            log.error("an SES notification could not be read: %s", err)
            return FeedbackOutcome("ignored", "unreadable")
        return Received(event, message.message_id or None)

    def from_queue(self, bodies: Sequence[str]) -> QueueBatch:
        """A batch of SQS message bodies, each judged on its own (see :class:`QueueBatch`).

        A body that does not verify or cannot be read is set aside with the reason; one
        whose signing certificate cannot be fetched now is kept in the queue, to be tried
        again. The rest are applied in one transaction; when the database refuses it for
        what it holds (``DATA_FAULTS``: a NUL character on PostgreSQL, a value too long),
        they are applied one by one, and only the one that fails alone is set aside. Any
        other failure (the database unreachable, the disk) is raised: nothing is lost.
        """
        out = QueueBatch([False] * len(bodies), {}, ApplyResult())
        batch: list[Received] = []
        indexes: list[int] = []
        for index, body in enumerate(bodies):
            try:
                received = self._queue_message(body)
            except CertificateUnavailableError as err:
                log.warning("kept an SQS message to verify later: %s", err)
                continue
            except Exception as err:  # whatever it is, it is this message's fault alone
                out.dead[index] = f"cannot be used: {_reason(err)}"
                continue
            if received is None:
                out.done[index] = True
            else:
                batch.append(received)
                indexes.append(index)
        try:
            out.result = self.sink.apply(batch)
        except DatabaseUnavailableError:
            raise
        except DATA_FAULTS as err:
            log.warning("a batch of %d SQS messages failed (%s); applying them one by one",
                        len(batch), _reason(err))
            for index, received in zip(indexes, batch, strict=True):
                try:
                    _add(out.result, self.sink.apply([received]))
                except DatabaseUnavailableError:
                    raise
                except DATA_FAULTS as alone:
                    out.dead[index] = f"cannot be applied: {_reason(alone)}"
        for index in indexes:
            out.done[index] = True
        for index, reason in sorted(out.dead.items()):
            out.done[index] = True  # once stored as a dead letter
            log.warning("set aside an SQS message (dead letter): %s", reason)
        return out

    def _queue_message(self, body: str) -> Received | None:
        data = load_json_object(body, "the SQS message")
        if is_ses_event(data):
            if self.verifier is not None:
                # With topics configured only what SNS signed is trusted: raw JSON could
                # come from anyone who can write to the queue.
                raise WebhookError(
                    "raw SES JSON arrived, but NEWSLETTER_SNS_TOPIC_ARNS is set, so only SNS "
                    "envelopes that verify are accepted; turn off raw message delivery on "
                    "the SNS subscription (or unset NEWSLETTER_SNS_TOPIC_ARNS)")
            return Received(event_from(data))  # raw delivery: the queue is the boundary
        if self.verifier is None:
            raise WebhookError(
                "an SNS envelope arrived but NEWSLETTER_SNS_TOPIC_ARNS is not set, so it "
                "cannot be verified; set it, or turn on raw message delivery"
            )
        message = self.verifier.verify(data, max_age=QUEUE_MAX_AGE)
        if _screen(message) is not None:
            return None
        return Received(parse_ses_event(message.message), message.message_id or None)


@dataclass
class QueueBatch:
    """What became of a batch of queue messages, by position: ``done`` (delete it from
    the queue: applied, a duplicate, nothing to apply, or set aside), ``dead`` (set aside,
    with the reason: to be stored as a dead letter before it is deleted) and the sum of
    what applying did."""

    done: list[bool]
    dead: dict[int, str]
    result: ApplyResult


def _reason(err: BaseException) -> str:
    text = " ".join(str(err).split())[:500]
    return text if isinstance(err, NewsletterError) else f"{type(err).__name__}: {text}"


def _add(total: ApplyResult, part: ApplyResult) -> None:
    for name in ("stored", "duplicates", "replayed", "unmatched", "confirmed", "rejected",
                 "suppressed"):
        setattr(total, name, getattr(total, name) + getattr(part, name))
    total.paused += part.paused
    total.fates += part.fates


def _screen(message: SnsMessage) -> FeedbackOutcome | None:
    """An outcome for a verified message that carries no event, else None.

    A replayed Notification is found when it is applied: its MessageId is looked up in the
    same query as its event's key.
    """
    if message.type == "SubscriptionConfirmation" and message.subscribe_url:
        return FeedbackOutcome("subscribe", message.topic_arn, subscribe_url=message.subscribe_url)
    if message.type != "Notification":
        return FeedbackOutcome("ignored", message.type)
    return None


def _applied(received: Received, result: ApplyResult) -> FeedbackOutcome:
    fate = result.fates[0]
    if fate == "replayed":
        return FeedbackOutcome("replayed", received.sns_message_id or "", result=result)
    return FeedbackOutcome("applied" if fate == "stored" else "duplicate", received.event.kind,
                   result=result)


class WebhookIntake:
    """The webhook's way through the pipeline, for an asyncio server.

    A small request (most SES events are a few KB) is verified and read on the event loop
    (a few hundred microseconds of CPU; only a certificate not seen before is fetched in a
    worker thread) and its event joins the next ``GroupCommit``: no request holds a thread
    of its own. A body over :data:`ON_LOOP_BYTES`, which anyone may post, is parsed and
    verified by one of :data:`BIG_BODY_THREADS` threads of its own, so a flood of them
    waits there instead of holding up every other route on the loop.
    """

    def __init__(self, feedback: Feedback) -> None:
        self.feedback = feedback
        self.group = GroupCommit(feedback.sink)
        self._big = ThreadPoolExecutor(BIG_BODY_THREADS, thread_name_prefix="webhook-big")

    async def receive(self, body: bytes) -> FeedbackOutcome:
        """What became of one POST body; ``WebhookError`` when it must be refused (403)."""
        if len(body) > ON_LOOP_BYTES:
            loop = asyncio.get_running_loop()
            checked = await loop.run_in_executor(self._big, self.feedback.check_webhook, body)
            if isinstance(checked, FeedbackOutcome):
                return checked
            return _applied(checked, await self.group.apply([checked]))
        try:
            checked = self.feedback.check_webhook(body, fetch=False)
        except CertificateNotCached:
            checked = await asyncio.to_thread(self.feedback.check_webhook, body)
        if isinstance(checked, FeedbackOutcome):
            return checked
        return _applied(checked, await self.group.apply([checked]))
