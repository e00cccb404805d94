"""A bulk call ready too late for its slot takes a new one (``sending.departures``, issue #23):
sent on its old slot, it reached SES in the same second as the calls of the slots after it,
which the other worker sent on time, and that second held more than the rate."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import pytest
from test_bulk_pace import RATE, Messages, Schedule, Store, Transport, worker
from test_shared_rate import busiest_second

from newsletter.model.bulk import BulkContent, BulkEntry
from newsletter.model.campaigns import Claim
from newsletter.sending.departures import Departures
from newsletter.sending.pacing import AdaptiveRate, TokenBucket
from newsletter.transports.bulk import EntryResult, Ready, hold

STALL = 0.25  # seconds: five slots of a 50-reader call at 1,000/s


class Calls(Transport):
    """Holds each call as ``SesBulkTransport`` does (``hold``); notes when it left."""

    def send_bulk(self, content: BulkContent, entries: Sequence[BulkEntry],
                  leave_at: float | None = None,
                  ready: Ready | None = None) -> list[EntryResult]:
        hold(leave_at, ready)
        with self.lock:
            self.calls.append((time.monotonic(), len(entries)))
        return [f"m-{e.to}" for e in entries]


class Stalling(Messages):
    """Building the entries of this worker's third and fourth calls stalls (a slow claim,
    a thread waiting for a core): both calls are ready long after their slots."""

    def __init__(self) -> None:
        self.built = 0
        self.lock = threading.Lock()

    def entry(self, claim: Claim) -> BulkEntry:
        with self.lock:
            self.built += 1
            stall = self.built in (101, 151)
        if stall:
            time.sleep(STALL)
        return super().entry(claim)


class Counted(Schedule):
    """The shared schedule, counting the slots taken."""

    def __init__(self) -> None:
        super().__init__()
        self.slots = 0

    def reserve(self, seconds: float) -> float:
        with self.lock:
            self.slots += 1
        return super().reserve(seconds)


@pytest.mark.serial  # it counts recipients per second of wall time: run alone
def test_a_call_ready_too_late_takes_a_new_slot_and_no_second_holds_more_than_the_rate(
) -> None:
    store, transport, schedule = Store(2_000), Calls(), Counted()
    runs = [worker(store, transport, schedule, f"w{i}") for i in range(2)]
    runs[0].bulk_messages = Stalling()
    threads = [threading.Thread(target=r.run) for r in runs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(store.recorded) == 2_000
    assert all(r.status == "sent" for r in store.recorded.values())
    # Sent on their old slots the stalled calls made a second of 1,100 recipients or more;
    # now at most one call's over (a call may leave up to its own slot late).
    assert busiest_second(transport.calls) <= RATE + 50
    # Both took a new slot (a thread that woke late may have too); their old ones went
    # unused.
    late = runs[0].result.late_calls + runs[1].result.late_calls
    assert runs[0].result.late_calls >= 2
    assert schedule.slots >= len(transport.calls) + late


@pytest.mark.serial  # it measures the spacing of calls in wall time: run alone
def test_alone_on_the_schedule_a_late_call_keeps_its_slot() -> None:
    """No other worker takes slots: nothing comes between this worker's calls, so a stalled
    call does not give up its slot (a new one costs rate); the calls after it are spaced
    after it."""
    store, transport, schedule = Store(1_000), Calls(), Counted()
    run = worker(store, transport, schedule, "w0")
    run.bulk_messages = Stalling()
    run.run()
    assert len(store.recorded) == 1_000
    assert run.result.late_calls == 0
    assert schedule.slots - len(transport.calls) <= run.concurrency  # a last one, unused
    assert busiest_second(transport.calls) <= RATE + 50


def test_claims_start_earlier_after_a_call_was_ready_late_and_come_back_slowly() -> None:
    """A call ready 80 ms after its slot: the next claims start 80 ms (and the aimed-for
    margin) earlier at once; while calls are ready early, that lead shrinks back."""
    rate = AdaptiveRate(TokenBucket(RATE), RATE)
    departures = Departures(rate, None, threading.Event())
    usual = departures.claim_at(100.0)
    now = time.monotonic()
    assert departures.departure(50, now - 0.08, now - 0.08)() is None  # late: it goes
    assert departures.claim_at(100.0) <= usual - 0.08
    shrinking = []
    for _ in range(100):  # ready 20 ms early (10 more than aimed for): 1 ms less a call
        now = time.monotonic()
        departures.departure(50, now + 0.02, now + 0.02)()
        shrinking.append(departures.claim_at(100.0))
    assert shrinking[0] < shrinking[1] < shrinking[2]
    assert shrinking[-1] == pytest.approx(usual)


class Taken:
    """A shared schedule on which another worker takes a slot after each of this one's
    (POSIX seconds, as ``WorkerRegistry.reserve`` answers)."""

    def __init__(self) -> None:
        self.end = time.time() + 0.05

    def __call__(self, seconds: float) -> float:
        start = max(self.end, time.time())
        self.end = start + 2 * seconds  # this slot, then the other worker's
        return start


@pytest.mark.serial  # a call is made 0.45 s late by sleeping: run alone
def test_a_call_that_takes_a_new_slot_leaves_no_spacing_behind_for_the_next() -> None:
    """At 250 recipients a second a 50-recipient call's slot is 0.2 s, and this worker's
    slots are 0.4 s apart (the other worker's between them). The first call is ready 0.45 s
    late and takes a new slot. The second, ready 0.05 s after its own slot, goes: spaced
    after the first call's old moment (0.65 s after it), it was pushed 0.25 s past its
    slot and took a new slot too, and so on down the line."""
    rate = AdaptiveRate(TokenBucket(250.0), 250.0)
    late: list[int] = []
    departures = Departures(rate, Taken(), threading.Event(), on_late=lambda: late.append(1))
    first, second = departures.due(50), departures.due(50)
    assert second - first == pytest.approx(0.4, abs=0.01)
    assert departures.shared()
    time.sleep(max(0.0, first + 0.45 - time.monotonic()))
    ready = departures.departure(50, first, departures.spaced(50, first))
    assert ready() is not None  # a new slot, to wait for
    assert len(late) == 1
    at = departures.spaced(50, second)
    assert at == second
    assert departures.departure(50, second, at)() is None  # it goes now
    assert len(late) == 1
