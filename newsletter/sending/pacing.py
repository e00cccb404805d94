"""A thread-safe token bucket that paces calls evenly, with an injectable clock.

SES measures its maximum send rate over a sliding second, so a bucket that lets a burst
through after an idle moment would be throttled. This bucket holds at most ``burst`` tokens
(one by default): it is the "virtual scheduling" form of a token bucket, where each caller
reserves the next free slot under a lock and then waits outside the lock until its slot.

``penalize`` pushes every future slot back (all threads back off together after a
throttle), and ``set_rate`` changes the pace for slots not yet reserved.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable

Clock = Callable[[], float]


class TokenBucket:
    """Grants ``rate`` tokens per second, at most ``burst`` at once after an idle period.

    ``clock`` is a monotonic clock in seconds; ``wait(seconds)`` sleeps and returns True
    when the caller should give up (pass ``threading.Event().wait`` to make waits
    interruptible, a fake for tests). Raises ``ValueError`` for a rate or burst <= 0.
    """

    def __init__(
        self,
        rate: float,
        burst: float = 1.0,
        clock: Clock = time.monotonic,
        wait: Callable[[float], bool] | None = None,
    ) -> None:
        if burst <= 0:
            raise ValueError(f"burst must be positive, not {burst}")
        self._lock = threading.Lock()
        self._clock = clock
        self._wait = wait or _sleep
        self._burst = burst
        self._rate = _positive(rate)
        # The time at which the next token becomes free; may lie in the past by at most
        # burst/rate (that is the stored burst).
        self._next = clock()

    @property
    def rate(self) -> float:
        return self._rate

    def set_rate(self, rate: float) -> None:
        """Change the pace; slots already reserved keep their time."""
        with self._lock:
            self._rate = _positive(rate)

    def penalize(self, seconds: float) -> None:
        """Grant nothing for ``seconds`` from now (a shared back-off)."""
        with self._lock:
            self._next = max(self._next, self._clock() + seconds)

    def reserve(self, count: int = 1) -> float:
        """Take the next ``count`` tokens; return how many seconds the caller must wait
        before using them (until the last one's slot: a bulk call of ``count`` recipients
        goes out when all its tokens are due, so it never runs ahead of the pace)."""
        with self._lock:
            now = self._clock()
            interval = 1.0 / self._rate
            # Unused time beyond the burst is forgotten: an idle bucket holds ``burst`` tokens.
            earliest = now - (self._burst - 1.0) * interval
            slot = max(self._next, earliest)
            self._next = slot + interval * max(1, count)
            return max(0.0, slot + interval * (max(1, count) - 1) - now)

    def acquire(self, count: int = 1) -> bool:
        """Block until ``count`` tokens are ours; False when the wait function says to give up."""
        delay = self.reserve(count)
        if delay > 0:
            return not self._wait(delay)
        return True


def _positive(rate: float) -> float:
    if not rate > 0:
        raise ValueError(f"rate must be positive, not {rate}")
    return float(rate)


def _sleep(seconds: float) -> bool:
    time.sleep(seconds)
    return False


class AdaptiveRate:
    """AIMD control of a bucket's pace below a ceiling: slow down on throttling, then recover.

    The ceiling already leaves headroom below the account's rate, so a throttle near it
    means a small excess: a gentle cut (a tenth) and a quick recovery (15% of the ceiling
    per second) keep the sustained rate close to the ceiling (see BENCHMARKS.md, Sending).

    ``on_throttle`` multiplies the rate by ``decrease`` (at most once per ``cooldown``
    seconds, so that a volley of throttles from many threads counts once) and holds every
    thread back for a short jittered pause. ``on_success`` adds back ``recovery`` of the
    ceiling per second elapsed, never above the ceiling. ``set_ceiling`` takes a new
    ceiling (say, when another worker starts sharing the account's rate).
    """

    def __init__(
        self,
        bucket: TokenBucket,
        ceiling: float,
        *,
        floor: float = 0.5,
        decrease: float = 0.9,
        recovery: float = 0.15,
        cooldown: float = 1.0,
        clock: Clock = time.monotonic,
        jitter: Callable[[float, float], float] | None = None,
    ) -> None:
        self.bucket = bucket
        self.floor = floor
        self.decrease = decrease
        self.recovery = recovery
        self.cooldown = cooldown
        self.clock = clock
        self._jitter = jitter or _uniform
        self._lock = threading.Lock()
        self._ceiling = _positive(ceiling)
        self._last_change = clock()
        self._last_decrease = float("-inf")
        self.throttles = 0
        bucket.set_rate(min(bucket.rate, self._ceiling))

    @property
    def ceiling(self) -> float:
        return self._ceiling

    @property
    def rate(self) -> float:
        return self.bucket.rate

    def set_ceiling(self, ceiling: float) -> None:
        with self._lock:
            self._ceiling = _positive(ceiling)
            self.bucket.set_rate(min(self.bucket.rate, self._ceiling))

    def acquire(self, count: int = 1) -> bool:
        """``count`` tokens: one per recipient (a 50-entry bulk call takes 50)."""
        return self.bucket.acquire(count)

    def reserve(self, count: int = 1) -> float:
        """``count`` tokens, without waiting: the seconds until they are due."""
        return self.bucket.reserve(count)

    def on_success(self) -> None:
        with self._lock:
            now = self.clock()
            elapsed, self._last_change = now - self._last_change, now
            if self.bucket.rate < self._ceiling:
                grown = self.bucket.rate + self._ceiling * self.recovery * elapsed
                self.bucket.set_rate(min(self._ceiling, grown))

    def on_throttle(self) -> None:
        with self._lock:
            self.throttles += 1
            now = self.clock()
            if now - self._last_decrease < self.cooldown:
                return
            self._last_decrease = self._last_change = now
            slower = max(self.floor, min(self.bucket.rate, self._ceiling) * self.decrease)
            self.bucket.set_rate(slower)
            # Everyone waits a little, at a random length so that workers do not all
            # resume in the same instant.
            self.bucket.penalize(self._jitter(0.5, 1.5) / slower)


def _uniform(low: float, high: float) -> float:
    return random.uniform(low, high)
