"""Sign-ups handed from the request to one background thread, through a bounded queue.

The page a sign-up gets must not tell whether the address is known, and neither may
the server's speed just after it: so the work happens after the response, on a thread
that takes one sign-up at a time and spends the same effort on each (the workflow
builds a confirmation email whether or not it sends one).

A sign-up is acknowledged only when it is queued. When the database cannot be used, the
thread keeps the sign-up and tries again with growing pauses; while it is failing, new
sign-ups are refused (the caller answers 503 with ``Retry-After``) rather than promised.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from newsletter.errors import DatabaseError, NewsletterError
from newsletter.subscribers.choices import Choices

log = logging.getLogger(__name__)

QUEUE_SIZE = 1000
RETRY_DELAYS = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0)
GIVE_UP_AFTER = 15 * 60.0  # seconds of failures before a queued sign-up is dropped (logged)


@dataclass(frozen=True)
class Signup:
    address: str
    choices: Choices


class SignupQueue:
    """Runs ``work(address, choices)`` for each queued sign-up, one at a time, in order."""

    def __init__(
        self, work: Callable[[str, Choices], object], *, size: int = QUEUE_SIZE,
        retry_delays: tuple[float, ...] = RETRY_DELAYS, give_up_after: float = GIVE_UP_AFTER,
    ) -> None:
        self._work = work
        self._queue: queue.Queue[Signup] = queue.Queue(size)
        self._retry_delays = retry_delays
        self._give_up_after = give_up_after
        self._stop = threading.Event()
        self._failing = threading.Event()
        self._idle = threading.Condition()
        self._busy = False
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._drain, name="sign-ups", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop after the sign-up in hand; what is still queued is logged as lost."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        if self._queue.qsize():
            log.error("%d queued sign-ups were not processed before shutdown",
                      self._queue.qsize())

    @property
    def failing(self) -> bool:
        """True while the database refuses work: new sign-ups should be refused (503)."""
        return self._failing.is_set()

    def put(self, address: str, choices: Choices) -> bool:
        """Queue a sign-up; False when it cannot be promised (queue full, database failing)."""
        if self._failing.is_set():
            return False
        try:
            self._queue.put_nowait(Signup(address, choices))
        except queue.Full:
            return False
        return True

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until every queued sign-up is done (for tests and shutdown)."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._busy or self._queue.qsize():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._idle.wait(min(left, 0.05))
        return True

    def _drain(self) -> None:
        while not self._stop.is_set():
            try:
                signup = self._queue.get(timeout=0.2)
            except queue.Empty:
                continue
            with self._idle:
                self._busy = True
            try:
                self._process(signup)
            finally:
                with self._idle:
                    self._busy = False
                    self._idle.notify_all()

    def _process(self, signup: Signup) -> None:
        started = time.monotonic()
        attempt = 0
        while not self._stop.is_set():
            try:
                outcome = self._work(signup.address, signup.choices)
            except DatabaseError as err:
                self._failing.set()
                if time.monotonic() - started > self._give_up_after:
                    log.error("web sign-up dropped after %.0f s of database failures: %s",
                              time.monotonic() - started, err)
                    return
                delay = self._retry_delays[min(attempt, len(self._retry_delays) - 1)]
                log.warning("web sign-up waits for the database (retry in %.1f s): %s",
                            delay, err)
                attempt += 1
                self._stop.wait(delay)
                continue
            except NewsletterError as err:
                log.warning("web sign-up failed: %s: %s", type(err).__name__, err)
            else:
                log.info("web sign-up: %s", getattr(outcome, "value", outcome))
            self._failing.clear()
            return
