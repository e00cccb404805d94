"""Sign-ups handed from the request to one background thread, through a queue kept in the
database (issue 25: what a reader was told is on its way survives any restart).

The page a sign-up gets must not tell whether the address is known, and neither may the
server's speed after it, nor when the next sign-up's email leaves: so the work happens after
the response, on a thread that takes one sign-up at a time and gives each the same time
slot (``slot`` seconds: the work starts at a random moment in its first half, the workflow
builds a confirmation email whether or not it sends one, and the thread then waits out
the rest of the slot), whatever the address.

A sign-up is acknowledged only once it is queued: a row committed in ``signup_queue`` (see
``store.signup_queue``), taken by this or another ``serve`` process and deleted once
handled, so a SIGTERM or a SIGKILL loses nothing. Each source (the client's rate-limit key)
may hold at most ``per_source`` waiting sign-ups, so a few sources cannot fill the queue
for everyone. When the database cannot take the row, the sign-up is kept in memory and
retried with growing pauses (as before there was a table); while it is failing, new
sign-ups are refused (the caller answers 503 with ``Retry-After``) rather than promised.
"""

from __future__ import annotations

import logging
import queue
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from newsletter.errors import DatabaseError, NewsletterError, TransientTransportError
from newsletter.store.signup_queue import QueuedSignup
from newsletter.subscribers.choices import Choices

log = logging.getLogger(__name__)
_RANDOM = random.SystemRandom()

QUEUE_SIZE = 10_000
PER_SOURCE = 10  # sign-ups one source may have waiting at once (its rate limit: 10 a window)
MEMORY_SIZE = 1000  # sign-ups kept in memory while the database cannot take them
SLOT = 0.1  # seconds each sign-up takes, whatever it is
IDLE_POLL = 1.0  # seconds between looks at the table when idle (other processes' rows)
RETRY_DELAYS = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0)
GIVE_UP_AFTER = 15 * 60.0  # seconds of failures before an in-memory sign-up is dropped


class Admission(StrEnum):
    """What ``put`` did; true only for a sign-up that will be handled."""

    QUEUED = "queued"
    SOURCE_FULL = "source_full"  # this source has enough waiting: 429
    UNAVAILABLE = "unavailable"  # full, or the database is failing: 503

    def __bool__(self) -> bool:
        return self is Admission.QUEUED


class QueueStore(Protocol):
    """``store.signup_queue.SignupQueueStore``."""

    def add(self, email: str, categories: frozenset[str], language: str, source: str, *,
            per_source: int, size: int) -> str: ...
    def take(self) -> QueuedSignup | None: ...
    def done(self, signup_id: int) -> None: ...
    def waiting(self) -> int: ...


@dataclass(frozen=True)
class Signup:
    address: str
    choices: Choices
    row: int | None = None  # its id in the table, when it came from there


class SignupQueue:
    """Runs ``work(address, choices)`` for each queued sign-up, one at a time, in order.

    Without a ``store`` the queue is in memory only (``size`` of them; for tests).
    """

    def __init__(
        self, work: Callable[[str, Choices], object], store: QueueStore | None = None, *,
        size: int = QUEUE_SIZE, per_source: int = PER_SOURCE, slot: float = SLOT,
        retry_delays: tuple[float, ...] = RETRY_DELAYS, give_up_after: float = GIVE_UP_AFTER,
    ) -> None:
        self._work = work
        self._store = store
        self._size = size
        self._per_source = per_source
        self._slot = slot
        self._memory: queue.Queue[Signup] = queue.Queue(size if store is None else MEMORY_SIZE)
        self._retry_delays = retry_delays
        self._give_up_after = give_up_after
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._failing = threading.Event()
        self._idle = threading.Condition()
        self._busy = False
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._drain, name="sign-ups", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop after the sign-up in hand; queued rows wait for the next start."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        if self._memory.qsize():
            log.error("%d sign-ups kept in memory while the database failed were not "
                      "processed before shutdown", self._memory.qsize())

    @property
    def failing(self) -> bool:
        """True while the database refuses work: new sign-ups should be refused (503)."""
        return self._failing.is_set()

    def put(self, address: str, choices: Choices, source: str = "") -> Admission:
        """Queue a sign-up from ``source`` (a client key). Blocks on the database: call it
        off the event loop."""
        if self._failing.is_set():
            return Admission.UNAVAILABLE
        if self._store is not None:
            try:
                queued = self._store.add(address, choices.categories, choices.language,
                                         source, per_source=self._per_source, size=self._size)
            except DatabaseError as err:
                # Promised from memory, as before the table; later ones get 503 meanwhile.
                log.warning("web sign-up kept in memory: the database failed: %s", err)
                self._failing.set()
            else:
                self._wake.set()
                return {"queued": Admission.QUEUED, "source_full": Admission.SOURCE_FULL}.get(
                    queued, Admission.UNAVAILABLE)
        try:
            self._memory.put_nowait(Signup(address, choices))
        except queue.Full:
            return Admission.UNAVAILABLE
        self._wake.set()
        return Admission.QUEUED

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until every queued sign-up is done (for tests and shutdown)."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._busy or self._memory.qsize() or self._rows_waiting():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._idle.wait(min(left, 0.05))
        return True

    def _rows_waiting(self) -> bool:
        if self._store is None:
            return False
        try:
            return self._store.waiting() > 0
        except DatabaseError:
            return True

    def _next(self) -> Signup | None:
        try:
            return self._memory.get_nowait()
        except queue.Empty:
            pass
        if self._store is None:
            return None
        try:
            row = self._store.take()
        except DatabaseError as err:
            self._failing.set()
            log.warning("web sign-ups wait for the database: %s", err)
            self._stop.wait(self._retry_delays[0])
            return None
        if row is None:
            return None
        return Signup(row.email, Choices(row.categories, row.language), row.id)  # type: ignore[arg-type]

    def _drain(self) -> None:
        while not self._stop.is_set():
            signup = self._next()
            if signup is None:
                self._wake.wait(IDLE_POLL if self._store is not None else 0.2)
                self._wake.clear()
                continue
            with self._idle:
                self._busy = True
            started = time.monotonic()
            try:
                # A random moment in the first half of the slot: the work never starts at a
                # moment the sender of the sign-up can predict and time a request against.
                self._stop.wait(_RANDOM.uniform(0.0, self._slot / 2))
                self._process(signup)
                # The rest of the slot: the next sign-up starts at the same moment whatever
                # this one was (a new address costs a few milliseconds more than a known one).
                self._stop.wait(max(0.0, started + self._slot - time.monotonic()))
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
                if signup.row is not None and self._store is not None:
                    self._store.done(signup.row)
            except DatabaseError as err:
                self._failing.set()
                if signup.row is not None:
                    # It stays in the table: taken again when its lease ends.
                    log.warning("web sign-up waits in the queue for the database: %s", err)
                    self._stop.wait(self._retry_delays[min(attempt, 3)])
                    return
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
            except TransientTransportError as err:
                if signup.row is None:
                    log.warning("web sign-up failed: %s: %s", type(err).__name__, err)
                else:  # SES is down: the row is taken again when its lease ends
                    log.warning("web sign-up waits in the queue for the mail service: %s", err)
            except NewsletterError as err:
                log.warning("web sign-up failed: %s: %s", type(err).__name__, err)
                if signup.row is not None and self._store is not None:
                    self._done_anyway(signup.row)
            else:
                log.info("web sign-up: %s", getattr(outcome, "value", outcome))
            self._failing.clear()
            return

    def _done_anyway(self, row: int) -> None:
        # A sign-up that fails for its own reason (a refused address) is not retried.
        assert self._store is not None
        try:
            self._store.done(row)
        except DatabaseError as err:
            log.warning("a failed web sign-up stays queued: %s", err)
