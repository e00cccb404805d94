"""The outboxes ``newsletter worker`` drains beside sending (issue 22)."""

from __future__ import annotations

import itertools
import threading
import time

import pytest

from newsletter.errors import DatabaseError
from newsletter.sending.drains import drain_once, draining


def test_one_failing_drain_does_not_stop_the_others() -> None:
    def broken() -> int:
        raise DatabaseError("the database is down")

    assert drain_once([("broken", broken), ("fine", lambda: 3)]) == (3, True)


@pytest.mark.slow
def test_pauses_double_while_a_drain_fails_and_a_round_runs_even_when_stopped_at_once(
) -> None:
    calls: list[float] = []

    def failing() -> int:
        calls.append(time.monotonic())
        raise DatabaseError("down")

    stop = threading.Event()
    with draining([("failing", failing)], stop, interval=0.05):
        # Rounds at about 0, 0.1, 0.3 and 0.7 s; waited for by count, not by the clock, so
        # a busy machine that runs the thread late cannot make the test miss a round.
        deadline = time.monotonic() + 10
        while len(calls) < 4 and time.monotonic() < deadline:
            time.sleep(0.01)
    gaps = [b - a for a, b in itertools.pairwise(calls[:4])]
    assert len(gaps) == 3, calls
    # A pause never ends early (only the block's end cuts it short), so each gap is at
    # least its doubled pause however late the thread ran: 0.1, 0.2, then 0.4 s.
    for gap, pause in zip(gaps, (0.1, 0.2, 0.4), strict=True):
        assert gap >= pause * 0.99, gaps
    once: list[int] = []
    stop.set()
    def count() -> int:
        once.append(1)
        return 0

    with draining([("once", count)], stop):
        pass
    assert once == [1]
