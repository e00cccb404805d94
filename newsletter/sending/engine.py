"""The campaign engine: claim deliveries, send them at the allowed rate, record what happened.

It talks to three small protocols: a ``DeliveryStore`` (claim, record, pause), a
``Transport`` and a ``MessageSource`` (claim -> MIME bytes). It knows no SQL and no boto3.

Threads: each of ``concurrency`` senders waits for a token from the rate control, then
takes a claim (one UPDATE claims for every sender waiting at that moment, so a row is
``sending`` only while its message is being handed over), sends, and passes the outcome
to one recorder thread, which writes outcomes in batches ("group commit"); a heartbeat
thread keeps the worker alive and learns how many workers share the rate.

What happens to a message when sending fails:

- throttled: every thread backs off (jittered) and the rate drops by a tenth, then
  recovers slowly; the message is tried again, up to ``throttle_attempts`` times;
- transient (5xx; or the request never left: refused, TLS, proxy, DNS): tried again with
  exponential back-off and full jitter, at least ``attempts`` times and for at least
  ``window`` seconds (a burst of 503s is ridden out within the run); then the delivery goes
  back to ``queued`` with ``not_before`` five minutes on (not failed: SES being down is not
  the reader's fault);
- in doubt (the answer was lost after the request went out): ``in_doubt`` under the
  "skip" and "reconcile" policies (never sent twice; "reconcile" later asks SES's events),
  retried as transient under "resend";
- the brake: ``brake_after`` deliveries in a row deferred or in doubt pause the campaign
  with the last cause (SES or the network is down: marching on through the list would only
  defer, or leave in doubt, reader after reader); the one in hand goes back to ``queued``;
- not built (the message could not be made): ``failed`` with the reason; it never left;
- permanent (rejected, bad request): ``failed`` with the reason;
- account-level (suspended, paused, unverified MAIL FROM, daily quota): the campaign is
  paused with the reason, every thread stops, unsent claims go back to ``queued``.
"""

from __future__ import annotations

import datetime as dt
import random
import threading
import time
from collections import deque
from collections.abc import Callable

from newsletter.clock import utc_now
from newsletter.errors import (
    AccountPausedError,
    InDoubtTransportError,
    NewsletterError,
    PermanentTransportError,
    ThrottledError,
    TransientTransportError,
)
from newsletter.model.campaigns import Claim, DeliveryResult
from newsletter.model.events import CAMPAIGN_TAG, DELIVERY_TAG
from newsletter.sending.pacing import AdaptiveRate
from newsletter.sending.plan import (
    DeliveryStore,
    MessageSource,
    ProgressSink,
    RunConfig,
    RunResult,
)
from newsletter.sending.recorder import Recorder
from newsletter.transports import TaggingTransport, Transport


class _Stop(Exception):
    """Raised inside a sender when the run is stopping."""


class DeliveryRun:
    """One worker's pass over one campaign. ``run`` returns when nothing is left to claim.

    ``config`` says which campaign, as which worker, with how many threads and what policy
    (see :class:`RunConfig`). ``rate``'s bucket should wait with ``stop.wait`` so that a
    stop interrupts senders waiting for a token. ``heartbeat`` is called every
    ``config.heartbeat_seconds`` and returns how many workers share the rate.
    """

    def __init__(
        self,
        store: DeliveryStore,
        transport: Transport,
        messages: MessageSource,
        rate: AdaptiveRate,
        config: RunConfig,
        *,
        progress: ProgressSink | None = None,
        heartbeat: Callable[[], int] | None = None,
        stop: threading.Event | None = None,
        now: Callable[[], dt.datetime] = utc_now,
        rng: random.Random | None = None,
    ) -> None:
        self.store = store
        self.transport = transport
        self.messages = messages
        self.rate = rate
        self.ceiling = rate.ceiling
        self.campaign_id = config.campaign_id
        self.campaign_tag = config.campaign_tag
        # Checked once: a tagging transport (SES) gets our delivery id as an EmailTag.
        self._tagging = transport if isinstance(transport, TaggingTransport) else None
        self.worker_id = config.worker_id
        self.concurrency = max(1, config.concurrency)
        self.policy = config.in_doubt_policy
        self.budget = config.daily_budget
        self.batch_size = config.batch_size
        self.retry = config.retry
        self.progress = progress
        self.heartbeat = heartbeat
        self.heartbeat_seconds = config.heartbeat_seconds
        self.stop = stop or threading.Event()
        self.now = now
        self.rng = rng or random.Random()
        self.result = RunResult()
        self._lock = threading.Lock()
        # Guards the claim hand-out: _local, _waiting, _claiming, _claimed, _exhausted.
        self._ready = threading.Condition(threading.Lock())
        self._local: deque[Claim] = deque()
        self._waiting = 0
        self._claiming = False
        self._claimed = 0
        self._exhausted = False
        self._quota_reached = False
        self._failed_in_row = 0  # deliveries deferred or in doubt since the last success
        self._recorder = Recorder(store, self.worker_id, self.result, self._lock, self.halt,
                                  progress)
        self._done = threading.Event()

    # -- the run ---------------------------------------------------------------------

    def run(self) -> RunResult:
        started = time.monotonic()
        self._recorder.progress = self.progress  # the caller may have set it since
        recorder = threading.Thread(target=self._recorder.loop, name="recorder", daemon=True)
        beat = threading.Thread(target=self._heartbeat_loop, name="heartbeat", daemon=True)
        senders = [
            threading.Thread(target=self._send_loop, name=f"sender-{i}", daemon=True)
            for i in range(self.concurrency)
        ]
        recorder.start()
        if self.heartbeat is not None:
            self._beat()
            beat.start()
        for thread in senders:
            thread.start()
        for thread in senders:
            thread.join()
        self._release_local()
        if self._quota_reached and not self.stop.is_set():
            self._pause_if_work_left(
                "the account's 24-hour sending quota is used up; run `newsletter send` again "
                "when the quota window has moved on"
            )
        self._recorder.put(None)
        recorder.join()
        self._done.set()
        if self.heartbeat is not None:
            beat.join()
        self.result.throttled = self.rate.throttles
        self.result.elapsed = time.monotonic() - started
        return self.result

    def halt(self, reason: str) -> None:
        """Stop claiming and let messages in flight finish (first reason wins)."""
        with self._lock:
            if self.result.stopped_reason is None:
                self.result.stopped_reason = reason
        self.stop.set()

    # -- claiming --------------------------------------------------------------------

    def _next(self) -> Claim | None:
        """A claim for a sender that already holds a send token; None when there is no more.

        Claims are made only for senders waiting right now, one statement for all of them
        (whoever arrives first claims for everyone waiting, the others wait for it): so a
        row is ``sending`` only from just before its message is handed to the transport,
        and a SIGKILL leaves in doubt no more messages than there are sender threads.
        """
        with self._ready:
            self._waiting += 1
            try:
                while True:
                    if self._local:
                        return self._local.popleft()
                    if self._exhausted or self.stop.is_set():
                        return None
                    if self._claiming:
                        self._ready.wait()
                        continue
                    self._claiming = True
                    wanted = min(self._waiting, self.batch_size)
                    self._ready.release()
                    try:
                        claims = self._claim(wanted)
                    finally:
                        self._ready.acquire()
                        self._claiming = False
                        self._ready.notify_all()
                    self._local.extend(claims)
            finally:
                self._waiting -= 1

    def _claim(self, wanted: int) -> list[Claim]:
        limit = wanted
        if self.budget is not None:
            limit = min(limit, self.budget - self._claimed)
            if limit <= 0:
                # Sending more would exceed the 24-hour quota; ``run`` pauses the campaign
                # once the messages already claimed are out, if anything is left.
                self._quota_reached = self._exhausted = True
                return []
        claims = self.store.claim(self.campaign_id, self.worker_id, limit)
        self._claimed += len(claims)
        if not claims:
            self._exhausted = True
        return claims

    def _release_local(self) -> None:
        with self._ready:
            while self._local:
                self._recorder.put(DeliveryResult(self._local.popleft().id, "queued"))
                self.result.released += 1

    def _pause_locked(self, reason: str) -> None:
        self.stop.set()
        if self.result.paused_reason is None:
            self.result.paused_reason = reason
            try:
                self.store.pause(self.campaign_id, reason)
            except Exception as err:  # the database failed too (a full disk): say it once
                self.result.error = self.result.error or _one_line(err)
            if self.progress is not None:
                self.progress.note(f"paused: {reason}")

    def _pause(self, reason: str) -> None:
        with self._lock:
            self._pause_locked(reason)

    def _pause_if_work_left(self, reason: str) -> None:
        probe = self.store.claim(self.campaign_id, self.worker_id, 1)
        if probe:
            self._recorder.put(DeliveryResult(probe[0].id, "queued"))
            self._pause(reason)

    # -- sending ---------------------------------------------------------------------

    def _send_loop(self) -> None:
        while True:
            # The token first, then the claim: a claimed row goes to the transport at once.
            if self.stop.is_set() or not self.rate.acquire():
                return
            try:
                claim = self._next()
            except Exception as err:  # the database failed while claiming: stop, once
                with self._lock:
                    self.result.error = self.result.error or _one_line(err)
                self.halt("the database failed")
                return
            if claim is None:
                return
            try:
                outcome = self._deliver(claim)
            except _Stop:
                outcome = DeliveryResult(claim.id, "queued")
                with self._lock:
                    self.result.released += 1
            except Exception as err:  # a defect or a broken transport: stop, settle nothing
                outcome = DeliveryResult(claim.id, "in_doubt", error=f"unexpected error: {err!r}")
                with self._lock:
                    self.result.error = self.result.error or f"{type(err).__name__}: {err}"
                self.halt("an unexpected error stopped the run")
            self._recorder.put(outcome)

    def _deliver(self, claim: Claim) -> DeliveryResult:
        """Send one claimed delivery, retrying as the policy allows; return its outcome."""
        try:
            raw = self.messages.build(claim)
        except Exception as err:  # not built, so it never left: failed, not in doubt
            detail = str(err) if isinstance(err, NewsletterError) else repr(err)
            return DeliveryResult(claim.id, "failed", error=f"message not built: {detail}")
        tries = throttles = 0
        resent = False  # a try after one whose answer was lost: maybe a second copy
        since = 0.0  # when the first transient failure of this delivery happened
        have_token = True  # the send loop took one before claiming
        while True:
            if self.stop.is_set() or not (have_token or self.rate.acquire()):
                raise _Stop
            have_token = False
            try:
                if self._tagging is not None:
                    provider_id = self._tagging.send_tagged(raw, claim.email, self._tags(claim))
                else:
                    provider_id = self.transport.send(raw, claim.email)
            except ThrottledError as err:
                throttles += 1
                self.rate.on_throttle()
                if throttles >= self.retry.throttle_attempts:
                    return self._defer(claim, err)
            except TransientTransportError as err:
                if isinstance(err, InDoubtTransportError):
                    if self.policy != "resend":
                        return self._brake(
                            DeliveryResult(claim.id, "in_doubt", error=str(err)), err)
                    resent = True
                tries, since = tries + 1, since or time.monotonic()
                if not self._try_again(tries, since):
                    return self._defer(claim, err, resent)
            except PermanentTransportError as err:
                return DeliveryResult(claim.id, "failed", error=str(err))
            except AccountPausedError as err:
                self._pause(str(err))
                raise _Stop from err
            else:
                self.rate.on_success()
                with self._lock:
                    self._failed_in_row = 0
                return DeliveryResult(claim.id, "sent", provider_id=provider_id, resent=resent)

    def _tags(self, claim: Claim) -> dict[str, str]:
        tags = {DELIVERY_TAG: str(claim.id)}
        if self.campaign_tag:
            tags[CAMPAIGN_TAG] = self.campaign_tag
        return tags

    def _try_again(self, tries: int, since: float) -> bool:
        """After ``tries`` transient failures (the first at ``since``, monotonic): wait and
        say True, or False when they are spent (``attempts`` made and ``window`` passed)."""
        if tries >= self.retry.attempts and time.monotonic() - since >= self.retry.window:
            return False
        if self.stop.wait(self.retry.backoff(tries, self.rng)):
            raise _Stop
        return True

    def _defer(self, claim: Claim, err: Exception, resent: bool = False) -> DeliveryResult:
        return self._brake(DeliveryResult(
            claim.id, "queued", error=f"deferred: {err}", not_before=self.now() + self.retry.defer,
            resent=resent,
        ), err)

    def _brake(self, outcome: DeliveryResult, err: Exception) -> DeliveryResult:
        """Count a delivery deferred or in doubt; pause the campaign at ``brake_after`` in
        a row. A deferred one in hand then goes back to ``queued`` to be sent on resuming."""
        with self._lock:
            self._failed_in_row += 1
            count = self._failed_in_row
            if count < self.retry.brake_after:
                return outcome
            self._pause_locked(
                f"{count} deliveries in a row could not be handed to SES (the last: {err}); "
                "nothing more is sent until the campaign is resumed: run `newsletter send` "
                "for the issue again (or Resume on the desk) once SES can be reached"
            )
        if outcome.status == "queued":
            return DeliveryResult(outcome.delivery_id, "queued", error=outcome.error,
                                  resent=outcome.resent)
        return outcome

    # -- heartbeat -------------------------------------------------------------------

    def _heartbeat_loop(self) -> None:
        while not self._done.wait(self.heartbeat_seconds):
            self._beat()

    def _beat(self) -> None:
        assert self.heartbeat is not None
        try:
            workers = self.heartbeat()
        except Exception as err:
            if self.progress is not None:
                self.progress.note(f"heartbeat failed: {err}")
            return
        self.rate.set_ceiling(self.ceiling / max(1, workers))


def _one_line(err: Exception) -> str:
    """``Type: first line`` of an error (drivers append background links and SQL)."""
    lines = str(err).strip().splitlines()
    return f"{type(err).__name__}: {lines[0] if lines else ''}"
