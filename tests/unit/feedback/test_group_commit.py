"""GroupCommit: the events of concurrent webhook requests are applied together, off the
event loop, and each caller learns what became of its own event."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable, Sequence

import pytest

from newsletter.feedback.apply import MAX_GROUP, GroupCommit
from newsletter.feedback.ses_events import parse_ses_event
from newsletter.store.db import open_database
from newsletter.store.events import ApplyResult, EventStore, Received


class Gated:
    """The real store, whose first apply waits (in its thread) until the test opens the gate."""

    def __init__(self, store: EventStore) -> None:
        self.store = store
        self.gate = threading.Event()
        self.entered = threading.Event()
        self.sizes: list[int] = []
        self.threads: set[str] = set()

    def apply(self, batch: Sequence[Received]) -> ApplyResult:
        self.threads.add(threading.current_thread().name)
        if not self.sizes:
            self.entered.set()
            self.gate.wait(10)
        self.sizes.append(len(batch))
        return self.store.apply(batch)


def received(n: int) -> Received:
    return Received(parse_ses_event(json.dumps(
        {"eventType": "Send", "mail": {"messageId": f"m-{n}", "destination": ["a@x.org"]}})))


async def queued_behind_the_first(group: GroupCommit, sink: Gated,
                                  batches: list[list[Received]]) -> list[ApplyResult]:
    """Apply ``batches`` concurrently, the first alone and the rest while it is applied."""
    first = asyncio.ensure_future(group.apply(batches[0]))
    assert await asyncio.to_thread(sink.entered.wait, 10)
    others = [asyncio.ensure_future(group.apply(batch)) for batch in batches[1:]]
    while len(group._pending) < len(others):
        await asyncio.sleep(0.01)
    sink.gate.set()
    return list(await asyncio.gather(first, *others))


def test_callers_arriving_during_a_commit_share_the_next_one(
    migrated_sqlite: Callable[[str], str],
) -> None:
    """While one apply runs, the next 7 callers wait and are applied in one group, in a
    thread that is not the event loop's."""
    db = open_database(migrated_sqlite("g.db"))
    sink = Gated(EventStore(db))
    results = asyncio.run(queued_behind_the_first(
        GroupCommit(sink), sink, [[received(n)] for n in range(8)]))
    assert sink.sizes == [1, 7]
    assert [r.stored for r in results] == [1] + [7] * 7
    assert [r.fates for r in results] == [["stored"]] * 8  # each caller gets its own
    assert threading.main_thread().name not in sink.threads
    db.close()


def test_each_caller_of_a_group_learns_what_became_of_its_own_event(
    migrated_sqlite: Callable[[str], str],
) -> None:
    """A duplicate and a new event committed together: each caller gets its own fate."""
    db = open_database(migrated_sqlite("g.db"))
    sink = Gated(EventStore(db))
    first, again, new = asyncio.run(queued_behind_the_first(
        GroupCommit(sink), sink, [[received(0)], [received(0)], [received(1), received(2)]]))
    assert sink.sizes == [1, 3]
    assert (first.fates, again.fates, new.fates) == (["stored"], ["duplicate"],
                                                      ["stored", "stored"])
    db.close()


def test_a_cancelled_caller_does_not_break_its_group(migrated_sqlite: Callable[[str], str]) -> None:
    """A request that goes away while its group is applied: the others still get theirs."""
    db = open_database(migrated_sqlite("g.db"))
    sink = Gated(EventStore(db))
    group = GroupCommit(sink)

    async def scenario() -> tuple[ApplyResult, ApplyResult]:
        first = asyncio.ensure_future(group.apply([received(0)]))
        assert await asyncio.to_thread(sink.entered.wait, 10)
        gone = asyncio.ensure_future(group.apply([received(1)]))
        kept = asyncio.ensure_future(group.apply([received(2)]))
        await asyncio.sleep(0.01)
        gone.cancel()
        sink.gate.set()
        return await first, await kept

    first, kept = asyncio.run(scenario())
    assert (first.fates, kept.fates, sink.sizes) == (["stored"], ["stored"], [1, 2])
    db.close()


def test_a_failed_group_fails_every_caller_in_it() -> None:
    """A database failure reaches each caller of the group (the webhook answers 500)."""

    class Broken:
        def apply(self, batch: Sequence[Received]) -> ApplyResult:
            raise OSError("disk full")

    async def scenario() -> list[BaseException | ApplyResult]:
        group = GroupCommit(Broken())
        return list(await asyncio.gather(*(group.apply([received(n)]) for n in range(3)),
                                         return_exceptions=True))

    outcomes = asyncio.run(scenario())
    assert len(outcomes) == 3
    for outcome in outcomes:
        assert isinstance(outcome, OSError) and "disk full" in str(outcome)
    with pytest.raises(OSError, match="disk full"):
        asyncio.run(GroupCommit(Broken()).apply([received(9)]))


def test_a_group_holds_at_most_max_group_requests(migrated_sqlite: Callable[[str], str]) -> None:
    """250 requests queued behind a commit are applied as 200 and then 50: a flood of
    requests does not make one transaction without bound."""
    db = open_database(migrated_sqlite("g.db"))
    sink = Gated(EventStore(db))
    results = asyncio.run(queued_behind_the_first(
        GroupCommit(sink), sink, [[received(n)] for n in range(MAX_GROUP + 51)]))
    assert sink.sizes == [1, MAX_GROUP, 50]
    assert all(r.fates == ["stored"] for r in results)
    db.close()


class Timed:
    """A sink that takes ``seconds`` per transaction and records the group sizes."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.sizes: list[int] = []

    def apply(self, batch: Sequence[Received]) -> ApplyResult:
        self.sizes.append(len(batch))
        threading.Event().wait(self.seconds)
        return ApplyResult(stored=len(batch), fates=["stored"] * len(batch))


async def callers(group: GroupCommit, count: int, each: int, trip: float = 0.0) -> None:
    """``count`` callers starting one after another, each sending its next event ``trip``
    seconds after the last was answered (the way back and forth over the network)."""

    async def caller(n: int) -> None:
        await asyncio.sleep(n * 0.002)
        for k in range(each):
            await group.apply([received(n * 1000 + k)])
            await asyncio.sleep(trip)

    await asyncio.gather(*(caller(n) for n in range(count)))


@pytest.mark.slow
def test_groups_hold_every_caller_instead_of_alternating_halves() -> None:
    """Eight callers in a closed loop: without waiting, the callers split into two halves
    committed in turn; lingering for the last cycle's callers makes each group hold all
    eight (the webhook's PostgreSQL throughput with 8 connections rose by a third)."""
    halves = Timed(0.01)
    asyncio.run(callers(GroupCommit(halves, linger=0), 8, 20, trip=0.002))
    whole = Timed(0.01)
    asyncio.run(callers(GroupCommit(whole, linger=0.05), 8, 20, trip=0.002))
    assert halves.sizes.count(8) <= 3  # two halves in turn (3 and 5, or 4 and 4)
    assert whole.sizes.count(8) >= 15 and len(whole.sizes) < 0.6 * len(halves.sizes)


def test_a_lone_caller_never_waits() -> None:
    """One caller at a time: nothing is pending when its group is done, so the drainer
    ends instead of lingering (a 10 s linger would show)."""
    sink = Timed(0.0)
    started = time.monotonic()
    asyncio.run(callers(GroupCommit(sink, linger=10.0), 1, 20))
    assert time.monotonic() - started < 5 and sink.sizes == [1] * 20
