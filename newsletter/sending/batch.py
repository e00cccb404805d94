"""The bulk engine: the delivery run of ``sending.engine``, 50 readers per transport call.

Each sender thread takes one token per recipient (a 50-entry call waits for 50), claims
up to that many deliveries, and sends them in one call per variant. Every entry's result
is judged by the rules of a single send (``sending.engine``):

- sent: its message id is recorded;
- throttled (the call, or an entry): the rate drops (AIMD, as for single sends) and the
  entry goes into the next call, up to ``throttle_attempts`` times, then it is deferred;
- transient (the call, or an entry): the entry is tried again after a jittered back-off,
  up to ``attempts`` times, then deferred (``queued`` with ``not_before``);
- in doubt (the call's answer was lost): every entry of the call is ``in_doubt`` under
  "skip" and "reconcile" (SES's events settle them), tried again under "resend";
- permanent: ``failed`` with the reason; not built: ``failed``, it never left;
- account-level: the campaign pauses, entries not sent go back to ``queued``.

With ``pace`` (``WorkerRegistry.reserve``: a send schedule in the database), each call's
slot comes from the schedule every worker shares, at the account's whole rate: calls of
several workers then leave evenly spaced, as one process's would. Without it, a worker
paces alone at its share of the rate (the ceiling divided by the live workers).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from newsletter.errors import (
    AccountPausedError,
    InDoubtTransportError,
    NewsletterError,
    PermanentTransportError,
    ThrottledError,
    TransientTransportError,
    TransportError,
)
from newsletter.model.bulk import BulkContent, BulkEntry
from newsletter.model.campaigns import Claim, DeliveryResult
from newsletter.sending.bulk_messages import BulkMessages
from newsletter.sending.departures import Departures
from newsletter.sending.engine import DeliveryRun, _one_line
from newsletter.transports.bulk import BulkTransport, EntryResult


def entries_per_call(rate: float, most: int) -> int:
    """Readers per call at ``rate`` recipients a second, at most ``most``.

    SES counts recipients within a sliding second. Calls of ``k`` readers paced at the rate
    fall ``k / rate`` apart, so a second can hold ``ceil(rate / k)`` of them: ``k`` is
    chosen as ``rate`` split evenly over the fewest calls a second, which keeps that below
    ``rate`` plus one reader per call (the headroom below the account's rate absorbs it).
    At 14/s that is one call of 14 a second, never a call of 50 that no second allows.
    """
    calls = max(1, math.ceil(rate / most))
    return max(1, min(most, math.ceil(rate / calls)))


@dataclass
class _Pending:
    """One claimed delivery waiting in a call, with the tries it has used."""

    claim: Claim
    entry: BulkEntry
    tries: int = 0
    throttles: int = 0
    since: float = 0.0  # when its first transient failure happened (monotonic)


class BatchRun(DeliveryRun):
    """A ``DeliveryRun`` whose senders send ``transport.max_entries`` readers per call."""

    def __init__(self, store: Any, transport: BulkTransport, messages: BulkMessages,
                 *args: Any, pace: Callable[[float], float] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(store, transport, messages, *args, **kwargs)  # type: ignore[arg-type]
        self.pace = pace
        self.bulk = transport
        self.bulk_messages = messages
        most = min(transport.max_entries, self.batch_size)
        self.entries_per_call = entries_per_call(self.ceiling, most)
        self._claim_lock = threading.Lock()
        # Each call's slot, when its claim starts and when it leaves (``sending.departures``).
        self.departures = Departures(self.rate, pace, self.stop, self._late_call)

    # -- the sender loop -------------------------------------------------------------

    def _send_loop(self) -> None:
        while not (self.stop.is_set() or self._exhausted):
            wanted = self.entries_per_call
            # The tokens first (one per recipient), then the claim just before they are
            # due: a claimed row goes to the transport at once, and the call leaves on
            # time (a late call followed by a punctual one would exceed SES's rate).
            try:
                due = self.departures.due(wanted)
            except Exception as err:  # the shared schedule could not be read: stop, once
                with self._lock:
                    self.result.error = self.result.error or _one_line(err)
                self.halt("the database failed")
                return
            if self._sleep_until(self.departures.claim_at(due)):
                return
            started = time.monotonic()
            try:
                claims = self._take(wanted)
            except Exception as err:  # the database failed while claiming: stop, once
                with self._lock:
                    self.result.error = self.result.error or _one_line(err)
                self.halt("the database failed")
                return
            if not claims:
                return
            groups: dict[str, list[Claim]] = {}
            for claim in claims:
                groups.setdefault(claim.variant, []).append(claim)
            prepared = [self._prepare(group) for group in groups.values()]
            self.departures.learn(time.monotonic() - started)
            if self.stop.is_set():
                for outcomes, pending, _ in prepared:
                    self._put(outcomes + self._release(pending))
                return
            for outcomes, pending, content in prepared:
                if content is not None and pending:
                    outcomes += self._send(content, pending, due)
                self._put(outcomes)

    def _beat(self) -> None:
        if self.pace is None:
            super()._beat()
            return
        # The shared schedule splits the rate among the workers: the heartbeat only keeps
        # this worker alive, and the ceiling stays the account's.
        assert self.heartbeat is not None
        try:
            self.heartbeat()
        except Exception as err:
            if self.progress is not None:
                self.progress.note(f"heartbeat failed: {err}")

    def _late_call(self) -> None:
        with self._lock:
            self.result.late_calls += 1

    def _acquire(self, count: int) -> bool:
        """Wait for ``count`` tokens (a retried call's); False when the run stops."""
        try:
            due = self.departures.due(count)
        except Exception:  # the shared schedule could not be read: pace alone meanwhile
            return self.rate.acquire(count)
        return not self._sleep_until(due)

    def _sleep_until(self, moment: float) -> bool:
        """Wait until ``moment`` (monotonic); True when the run stops meanwhile."""
        delay = moment - time.monotonic()
        return self.stop.wait(delay) if delay > 0 else self.stop.is_set()

    def _put(self, outcomes: list[DeliveryResult]) -> None:
        self._recorder.put_many(outcomes)

    def _take(self, wanted: int) -> list[Claim]:
        with self._claim_lock:
            if self._exhausted or self.stop.is_set():
                return []
            return self._claim(wanted)

    # -- one call's entries ----------------------------------------------------------

    def _prepare(
        self, claims: Sequence[Claim]
    ) -> tuple[list[DeliveryResult], list[_Pending], BulkContent | None]:
        """Each claim's entry (or its failure: not built, so never sent) and the content."""
        outcomes: list[DeliveryResult] = []
        pending: list[_Pending] = []
        for claim in claims:
            try:
                pending.append(_Pending(claim, self.bulk_messages.entry(claim)))
            except Exception as err:  # not built, so it never left: failed, not in doubt
                detail = str(err) if isinstance(err, NewsletterError) else repr(err)
                outcomes.append(
                    DeliveryResult(claim.id, "failed", error=f"message not built: {detail}"))
        if not pending:
            return outcomes, pending, None
        try:
            return outcomes, pending, self.bulk_messages.content(claims[0].variant)
        except NewsletterError as err:
            failed = [DeliveryResult(p.claim.id, "failed", error=f"message not built: {err}")
                      for p in pending]
            return outcomes + failed, [], None

    def _send(
        self, content: BulkContent, pending: list[_Pending], due: float
    ) -> list[DeliveryResult]:
        """Send ``pending`` (their tokens taken, due at ``due``) until each has its
        outcome. The request is handed over before it is due: the transport builds and
        signs it, then holds it until ``leave_at`` (building it after the moment made the
        call's arrival at SES as late as the thread's wait for the interpreter), or until
        a new slot when it was ready too late (``sending.departures``)."""
        outcomes: list[DeliveryResult] = []
        have_tokens = True  # the send loop took them before claiming
        while pending:
            if self.stop.is_set() or not (have_tokens or self._acquire(len(pending))):
                return outcomes + self._release(pending)
            if not have_tokens:
                due = time.monotonic()
            have_tokens = False
            try:
                at = self.departures.spaced(len(pending), due)
                results = self.bulk.send_bulk(
                    content, [p.entry for p in pending], leave_at=at,
                    ready=self.departures.departure(len(pending), due, at))
            except AccountPausedError as err:
                self._pause(str(err))
                return outcomes + self._release(pending)
            except TransportError as err:
                results = [err] * len(pending)
            except Exception as err:  # a defect or a broken transport: stop, settle nothing
                with self._lock:
                    self.result.error = self.result.error or f"{type(err).__name__}: {err}"
                self.halt("an unexpected error stopped the run")
                return outcomes + [DeliveryResult(p.claim.id, "in_doubt",
                                                  error=f"unexpected error: {err!r}")
                                   for p in pending]
            pending, done, wait = self._judge(pending, results)
            outcomes += done
            if pending and wait > 0 and self.stop.wait(wait):
                return outcomes + self._release(pending)
        return outcomes

    def _judge(
        self, pending: list[_Pending], results: Sequence[EntryResult]
    ) -> tuple[list[_Pending], list[DeliveryResult], float]:
        """Each entry's outcome by the single-send rules: (to retry, settled, back-off)."""
        again: list[_Pending] = []
        done: list[DeliveryResult] = []
        backoff = 0.0
        succeeded = throttled = False
        failure: Exception | None = None  # the call's first entry deferred or in doubt
        for item, result in zip(pending, results, strict=True):
            claim = item.claim
            if isinstance(result, str):
                succeeded = True
                done.append(DeliveryResult(claim.id, "sent", provider_id=result))
            elif isinstance(result, ThrottledError):
                throttled = True
                item.throttles += 1
                if item.throttles >= self.retry.throttle_attempts:
                    done.append(self._deferred(claim, result))
                    failure = failure or result
                else:
                    again.append(item)
            elif isinstance(result, InDoubtTransportError) and self.policy != "resend":
                done.append(DeliveryResult(claim.id, "in_doubt", error=str(result)))
                failure = failure or result
            elif isinstance(result, TransientTransportError):  # in doubt too, under "resend"
                item.tries += 1
                item.since = item.since or time.monotonic()
                if (item.tries >= self.retry.attempts
                        and time.monotonic() - item.since >= self.retry.window):
                    done.append(self._deferred(claim, result))
                    failure = failure or result
                else:
                    again.append(item)
                    backoff = max(backoff, self.retry.backoff(item.tries, self.rng))
            elif isinstance(result, AccountPausedError):
                self._pause(str(result))
                done.append(DeliveryResult(claim.id, "queued"))
                with self._lock:
                    self.result.released += 1
            elif isinstance(result, PermanentTransportError):
                done.append(DeliveryResult(claim.id, "failed", error=str(result)))
            else:
                done.append(DeliveryResult(claim.id, "failed", error=str(result)))
        if throttled:
            self.rate.on_throttle()
        if succeeded:
            self.rate.on_success()
            with self._lock:
                self._failed_in_row = 0
        if failure is not None and not succeeded:
            # One call that failed is one failure in a row for the brake, however many
            # readers it carried (a lost answer to 50 entries is not 50 failures).
            self._brake(DeliveryResult(0, "in_doubt"), failure)
            if self.result.paused_reason is not None:  # braked: deferred ones wait for resume
                done = [DeliveryResult(o.delivery_id, "queued", error=o.error)
                        if o.status == "queued" else o for o in done]
        if self.stop.is_set() and again:
            done += self._release(again)
            again = []
        return again, done, backoff

    def _deferred(self, claim: Claim, err: Exception) -> DeliveryResult:
        """Queued again after the retry policy's delay (the brake is counted per call)."""
        return DeliveryResult(claim.id, "queued", error=f"deferred: {err}",
                              not_before=self.now() + self.retry.defer)

    def _release(self, pending: Sequence[_Pending]) -> list[DeliveryResult]:
        """Entries not sent when the run stops: back to ``queued``."""
        with self._lock:
            self.result.released += len(pending)
        return [DeliveryResult(p.claim.id, "queued") for p in pending]
