"""The send schedule workers share (issue 23, ``WorkerRegistry.reserve``), on SQLite and
on a real PostgreSQL: every call gets its own slot, one after another, from any worker."""

from __future__ import annotations

import itertools
import threading

import pytest

from newsletter.store.db import Database
from newsletter.store.workers import WorkerRegistry


class Wall:
    """A settable POSIX clock."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_slots_follow_each_other_and_an_idle_schedule_starts_now(db: Database) -> None:
    """Reservations queue up behind each other; after a pause the next one starts now."""
    registry = WorkerRegistry(db)
    registry.wall = Wall(1_000.0)
    assert registry.reserve(0.02) == 1_000.0  # the row is made on first use
    assert registry.reserve(0.02) == pytest.approx(1_000.02)
    assert registry.reserve(0.5) == pytest.approx(1_000.04)
    registry.wall = Wall(2_000.0)  # idle since: no debt carried over
    assert registry.reserve(0.02) == 2_000.0
    assert registry.reserve(0.02, name="other") == 2_000.0  # schedules apart by name


def test_two_workers_on_many_threads_never_share_a_slot(db: Database) -> None:
    """Concurrent reservations from two registries tile the schedule without overlap."""
    workers = [WorkerRegistry(db), WorkerRegistry(db)]
    for w in workers:
        w.wall = Wall(5_000.0)
    starts: list[float] = []
    lock = threading.Lock()

    def take(registry: WorkerRegistry) -> None:
        for _ in range(10):
            start = registry.reserve(0.01)
            with lock:
                starts.append(start)

    threads = [threading.Thread(target=take, args=(workers[i % 2],)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    starts.sort()
    assert len(starts) == 60
    assert starts[0] == pytest.approx(5_000.0)
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert min(gaps) == pytest.approx(0.01)
    assert max(gaps) == pytest.approx(0.01)
