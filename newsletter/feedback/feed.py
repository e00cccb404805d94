"""A consumer of SES events says, while it runs, how current it is (``store.feeds``).

``reconcile`` resends an in-doubt delivery only when a feed is alive and has received every
event SES published until ``RECONCILE_AFTER`` past the delivery's claim. The SQS poller is
*durable*: the queue keeps what arrives while it is down, so its watermark is when it last
found the queue empty. The webhook is not: it receives only what SNS pushes while it is up,
so it covers deliveries claimed since it started, up to now.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Protocol

from newsletter.clock import utc_now

log = logging.getLogger(__name__)
INTERVAL = 10.0  # seconds between beats (a feed is stale after 90 s: ``store.feeds``)


class FeedSink(Protocol):
    def beat(self, name: str, *, covers_from: dt.datetime | None,
             current_to: dt.datetime | None) -> None: ...


def feed_name(kind: str, where: str = "") -> str:
    """A feed's name: ``kind`` and ``where`` (the queue's URL), else this host and process."""
    return f"{kind} {where or f'{socket.gethostname()}:{os.getpid()}'}"[:300]


class Heartbeat:
    """Beats for one consumer every ``interval`` seconds on a thread of its own, from
    ``with`` to its end (a durable one once more then, with its last watermark). A beat
    that fails is logged, not raised: the feed then looks stale, which only delays
    resending."""

    def __init__(self, sink: FeedSink, name: str, *, durable: bool,
                 interval: float = INTERVAL, clock: Callable[[], dt.datetime] = utc_now) -> None:
        self.sink = sink
        self.name = name
        self.durable = durable
        self.interval = interval
        self.clock = clock
        self.started = clock()
        self._drained: dt.datetime | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="feed-heartbeat", daemon=True)

    def drained(self, at: dt.datetime) -> None:
        """The queue was found empty by a receive that began at ``at``."""
        with self._lock:
            if self._drained is None or at > self._drained:
                self._drained = at

    def beat(self) -> None:
        with self._lock:
            current_to = self._drained if self.durable else self.clock()
        try:
            self.sink.beat(self.name, covers_from=None if self.durable else self.started,
                           current_to=current_to)
        except Exception as err:  # the database is down: the feed looks stale meanwhile
            log.warning("event feed heartbeat failed: %s", err)

    def start(self) -> None:
        self.beat()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        if self.durable:  # the poller's last watermark; a stopped webhook vouches for nothing
            self.beat()

    def __enter__(self) -> Heartbeat:
        self.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.beat()
