"""The outboxes ``newsletter worker`` drains beside sending (issue 22)."""

from __future__ import annotations

import itertools
import threading
import time

from newsletter.errors import DatabaseError
from newsletter.sending.drains import drain_once, draining


def test_one_failing_drain_does_not_stop_the_others() -> None:
    def broken() -> int:
        raise DatabaseError("the database is down")

    assert drain_once([("broken", broken), ("fine", lambda: 3)]) == (3, True)


def test_pauses_double_while_a_drain_fails_and_a_round_runs_even_when_stopped_at_once(
) -> None:
    calls: list[float] = []

    def failing() -> int:
        calls.append(time.monotonic())
        raise DatabaseError("down")

    stop = threading.Event()
    with draining([("failing", failing)], stop, interval=0.05):
        time.sleep(0.8)  # rounds at about 0, 0.1, 0.3 and 0.7 s, and one as the block ends
    gaps = [b - a for a, b in itertools.pairwise(calls[:-1])]
    assert len(gaps) >= 3, calls
    assert all(later > earlier * 1.5 for earlier, later in itertools.pairwise(gaps)), gaps
    once: list[int] = []
    stop.set()
    def count() -> int:
        once.append(1)
        return 0

    with draining([("once", count)], stop):
        pass
    assert once == [1]
