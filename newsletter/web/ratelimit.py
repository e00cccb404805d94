"""A small in-memory sliding-window rate limiter, keyed by client address.

It protects one process (``newsletter serve`` runs one); several processes behind a load
balancer would each allow the limit. That is enough to stop a script from using the
subscribe form to mail strangers; it is not a defence against a distributed attack.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable


class RateLimiter:
    """At most ``limit`` hits per ``window`` seconds for each key.

    ``clock`` returns seconds (monotonic by default; tests pass their own). Thread-safe:
    Starlette runs endpoints on several threads.
    """

    def __init__(
        self, limit: int, window: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if limit < 1 or window <= 0:
            raise ValueError(f"limit must be >= 1 and window > 0, not {limit} and {window}")
        self.limit = limit
        self.window = window
        self.clock = clock
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()
        self._next_sweep = 0.0

    def hit(self, key: str) -> bool:
        """Record a hit for ``key``; return False (and record nothing) when over the limit."""
        now = self.clock()
        with self._lock:
            self._sweep(now)
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - self.window:
                hits.popleft()
            if len(hits) >= self.limit:
                return False
            hits.append(now)
            return True

    def retry_after(self, key: str) -> int:
        """Whole seconds until ``key`` may hit again (0 when it may now)."""
        now = self.clock()
        with self._lock:
            hits = self._hits.get(key)
            if not hits or len(hits) < self.limit:
                return 0
            return max(0, int(hits[0] + self.window - now + 0.999))

    def _sweep(self, now: float) -> None:
        # Forget idle keys once per window, so memory follows the number of recent clients.
        if now < self._next_sweep:
            return
        self._next_sweep = now + self.window
        stale = [k for k, hits in self._hits.items() if not hits or hits[-1] <= now - self.window]
        for key in stale:
            del self._hits[key]

    def __len__(self) -> int:
        """How many keys are being tracked (for tests of the sweep)."""
        return len(self._hits)
