"""A task the worker runs now and then between its passes (pruning old SES events)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from newsletter.errors import NewsletterError

log = logging.getLogger(__name__)
PRUNE_EVERY = 3600.0  # seconds


class Periodic:
    """Calls ``task`` at most once every ``every`` seconds; a failure is logged, not raised
    (sending matters more), and the task is tried again at the next interval."""

    def __init__(self, task: Callable[[], object], every: float = PRUNE_EVERY,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.task, self.every, self.monotonic = task, every, monotonic
        self._last: float | None = None

    def __call__(self) -> None:
        now = self.monotonic()
        if self._last is not None and now - self._last < self.every:
            return
        self._last = now
        try:
            done = self.task()
        except NewsletterError as error:
            log.warning("housekeeping failed (tried again in %.0f s): %s", self.every, error)
            return
        log.info("housekeeping: %s", done)
