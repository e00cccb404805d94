"""Outboxes drained beside the sending loop of ``newsletter worker`` (issue 22): welcome
emails and webhook messages. Each drain is a callable that does what is due and returns
how much it did; a failing drain is logged and tried again on the next round."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from newsletter.errors import NewsletterError

log = logging.getLogger(__name__)

Drain = tuple[str, Callable[[], int]]


MAX_PAUSE = 60.0  # seconds between rounds at most while a drain keeps failing


def drain_once(drains: Sequence[Drain]) -> tuple[int, bool]:
    """Run each drain once: how much they did in all, and whether one failed (logged, not
    raised)."""
    done, failed = 0, False
    for name, drain in drains:
        try:
            done += drain()
        except NewsletterError as error:
            failed = True
            log.warning("%s: not drained this round: %s", name, error)
    return done, failed


@contextmanager
def draining(
    drains: Sequence[Drain], stop: threading.Event, *, interval: float = 1.0
) -> Iterator[None]:
    """Run the drains every ``interval`` seconds on a thread until ``stop`` is set or the
    block ends (then the round in progress finishes first). While a drain keeps failing (the
    database is down, say) the pauses double, up to :data:`MAX_PAUSE`."""
    ended = threading.Event()

    def loop() -> None:
        pause = interval
        while True:  # one round at least, also for `worker --once`
            did, failed = drain_once(drains)
            if stop.is_set() or ended.is_set():
                return
            pause = min(pause * 2, MAX_PAUSE) if failed else interval
            if did == 0 or failed:
                ended.wait(pause)

    thread = threading.Thread(target=loop, name="outbox drains", daemon=True)
    thread.start()
    try:
        yield
    finally:
        ended.set()
        thread.join()
