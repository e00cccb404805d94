"""Single-message workers take their tokens from the send schedule bulk workers use
(``sending/shared_rate.py``, issue #23): mixed workers together stay within the rate."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import pytest
from test_bulk_pace import RATE, Messages, Schedule, Store, Transport, worker

from newsletter.model.bulk import BulkContent, BulkEntry
from newsletter.sending.engine import DeliveryRun
from newsletter.sending.pacing import TokenBucket
from newsletter.sending.plan import RetryPolicy, RunConfig
from newsletter.sending.shared_rate import SharedRate
from newsletter.transports.bulk import EntryResult, Ready


class Moments(Transport):
    """Bulk calls at their moment, single sends when they happen: (monotonic, readers)."""

    def send(self, raw: bytes, to: str) -> str:
        with self.lock:
            self.calls.append((time.monotonic(), 1))
        return f"m-{to}"

    def send_bulk(self, content: BulkContent, entries: Sequence[BulkEntry],
                  leave_at: float | None = None,
                  ready: Ready | None = None) -> list[EntryResult]:
        assert leave_at is not None
        delay = leave_at - time.monotonic()
        if delay > 0:
            time.sleep(delay)  # as SesBulkTransport holds a built call
        return super().send_bulk(content, entries, leave_at)


def single_worker(store: Store, transport: Transport, schedule: Schedule,
                  name: str) -> DeliveryRun:
    stop = threading.Event()
    rate = SharedRate(TokenBucket(RATE, wait=stop.wait), RATE, schedule.reserve, stop.wait)
    return DeliveryRun(
        store, transport, Messages(), rate,  # type: ignore[arg-type]
        RunConfig(1, name, 4, retry=RetryPolicy(base_delay=0.0, max_delay=0.0)),
        heartbeat=lambda: 3, stop=stop,
    )


def busiest_second(moments: list[tuple[float, int]]) -> int:
    moments = sorted(moments)
    return max(sum(n for t, n in moments[i:] if t < start + 1.0)
               for i, (start, _) in enumerate(moments))


@pytest.mark.serial  # it counts sends per second of wall time: run alone
def test_single_and_bulk_workers_sharing_the_schedule_stay_within_the_rate() -> None:
    """Two single-message workers and a bulk worker: no second holds more than the rate
    (plus one bulk call's readers), every reader is sent once, none paces at a share."""
    store, transport, schedule = Store(1_500), Moments(), Schedule()
    runs = [single_worker(store, transport, schedule, "s1"),
            single_worker(store, transport, schedule, "s2"),
            worker(store, transport, schedule, "b1")]
    threads = [threading.Thread(target=r.run) for r in runs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(store.recorded) == 1_500
    assert all(r.status == "sent" for r in store.recorded.values())
    assert sum(n for _, n in transport.calls) == 1_500
    assert sum(1 for _, n in transport.calls if n == 1) > 100  # the single workers sent
    assert busiest_second(transport.calls) <= RATE * 1.02 + 50
    assert all(r.rate.ceiling == RATE for r in runs)  # the heartbeat's 3 did not split it


def test_slots_come_in_blocks_and_stale_ones_are_given_up() -> None:
    schedule, waits = Schedule(), []
    clock, ahead = [100.0], 3e9  # the schedule's next free moment, past time.time()
    shared = SharedRate(TokenBucket(1_000.0), 1_000.0, schedule.reserve,
                        lambda s: waits.append(s) or False, clock=lambda: clock[0],
                        wall=lambda: ahead - 1_000.0)
    schedule.next_at = ahead  # 1,000 s from "now": 1,100 on the monotonic clock
    assert shared.acquire()
    assert schedule.next_at == pytest.approx(ahead + 0.02)  # one block: 20 slots of 1 ms
    assert shared.acquire(3)
    assert waits == [pytest.approx(1_000.0), pytest.approx(1_000.003)]
    clock[0] = 2_000.0  # the remaining 16 slots are now in the past: given up
    assert shared.acquire()
    assert schedule.next_at == pytest.approx(ahead + 0.04)
    assert waits[-1] == 0.0
    shared.set_ceiling(10.0)
    assert shared.ceiling == 1_000.0
