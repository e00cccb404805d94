"""The single-message path's tokens from the send schedule every worker shares (issue #23).

Bulk calls take their slots from one schedule in the database (``WorkerRegistry.reserve``,
``sending.batch``). A worker sending one message at a time (``NEWSLETTER_SES_BULK=false``,
or a transport without bulk calls) takes its tokens from the same schedule, so workers of
either kind, mixed, never send faster together than the account's rate; each paced alone
at its share, and a bulk worker at the whole rate beside one of them exceeded it.

``SharedRate`` is an ``AdaptiveRate`` (AIMD on throttling as before: the pace is its
rate) whose ``acquire`` reserves a short block of slots at a time (about ``block``
seconds of the rate: one UPDATE per block, not per message) and hands them to this
worker's threads in order. The schedule splits the rate among the workers, so the
heartbeat's per-worker share (``set_ceiling``) does not apply: the ceiling stays whole.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

from newsletter.sending.pacing import AdaptiveRate, TokenBucket

# Seconds of the rate reserved at once: short, so that a block a worker holds but has not
# used yet delays the others little (at 2,500/s, 50 messages; at 14/s, one).
BLOCK_SECONDS = 0.02


class SharedRate(AdaptiveRate):
    """``AdaptiveRate`` whose tokens are slots of the shared send schedule ``pace``
    (``WorkerRegistry.reserve``: seconds wanted -> their start, POSIX seconds).

    ``wait(seconds)`` sleeps and returns True when the run stops (``stop.wait``). When the
    schedule cannot be read (the database failed), tokens come from the bucket alone.
    """

    def __init__(
        self,
        bucket: TokenBucket,
        ceiling: float,
        pace: Callable[[float], float],
        wait: Callable[[float], bool],
        *,
        block: float = BLOCK_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(bucket, ceiling, clock=clock)
        self.pace = pace
        self.block = block
        self._wait = wait
        self._slots: deque[float] = deque()  # reserved, not yet taken (monotonic)
        self._slot_lock = threading.Lock()
        # The schedule is in POSIX seconds, the waits in monotonic ones: one offset.
        self._offset = wall() - clock()

    def set_ceiling(self, ceiling: float) -> None:
        """The schedule splits the account's rate among the workers: kept whole."""

    def acquire(self, count: int = 1) -> bool:
        """``count`` slots of the schedule; False when the run stops meanwhile."""
        with self._slot_lock:
            # Slots left over from before a pause lie in the past: sending on them now
            # would crowd the present second, so they are given up.
            stale = self.clock() - self.block
            while self._slots and self._slots[0] < stale:
                self._slots.popleft()
            try:
                while len(self._slots) < count:
                    self._reserve(count - len(self._slots))
            except Exception:  # the schedule could not be read: pace alone meanwhile
                return super().acquire(count)
            at = 0.0
            for _ in range(count):
                at = self._slots.popleft()
        return not self._wait(max(0.0, at - self.clock()))

    def _reserve(self, wanted: int) -> None:
        interval = 1.0 / self.rate
        count = max(wanted, round(self.block * self.rate))
        start = self.pace(count * interval) - self._offset
        self._slots.extend(start + n * interval for n in range(count))
