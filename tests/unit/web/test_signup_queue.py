"""Issue 25 item 6 and issue 24 item 15: the sign-up queue lives in the database, gives
every sign-up the same time slot whatever the address, and bounds what one source may hold.

Real parts: SQLite and PostgreSQL (``database_url``), the real queue store.
"""

from __future__ import annotations

import itertools
import statistics
import time

import pytest

from newsletter.store.db import open_database, upgrade
from newsletter.store.signup_queue import SignupQueueStore
from newsletter.subscribers.choices import Choices
from newsletter.web.signups import Admission, SignupQueue

CHOICES = Choices(frozenset({"LG"}), "en")


def test_queued_sign_ups_survive_the_process_and_are_handled_by_the_next(
    database_url: str,
) -> None:
    """Sign-ups queued by one queue object, never handled (its thread never ran), are
    handled once each by a new one over the same database, in order."""
    if not database_url.startswith("sqlite"):
        upgrade(database_url)
    db = open_database(database_url)
    try:
        first = SignupQueue(lambda a, c: None, SignupQueueStore(db))
        for n in range(5):
            assert first.put(f"r{n}@example.org", CHOICES, f"10.0.0.{n}") is Admission.QUEUED
        assert SignupQueueStore(db).waiting() == 5

        done: list[tuple[str, Choices]] = []
        second = SignupQueue(lambda a, c: done.append((a, c)), SignupQueueStore(db), slot=0)
        second.start()
        try:
            assert second.wait_idle(10)
        finally:
            second.stop()
        assert done == [(f"r{n}@example.org", CHOICES) for n in range(5)]
        assert SignupQueueStore(db).waiting() == 0
    finally:
        db.close()


def test_one_source_cannot_fill_the_queue(tmp_path: object, database_url: str) -> None:
    """The fourth waiting sign-up of one source is refused (429), another source's is not."""
    if not database_url.startswith("sqlite"):
        upgrade(database_url)
    db = open_database(database_url)
    try:
        signups = SignupQueue(lambda a, c: None, SignupQueueStore(db), per_source=3)
        results = [signups.put(f"x{n}@example.org", CHOICES, "203.0.113.9") for n in range(4)]
        assert results == [Admission.QUEUED] * 3 + [Admission.SOURCE_FULL]
        assert not Admission.SOURCE_FULL
        assert signups.put("y@example.org", CHOICES, "198.51.100.1") is Admission.QUEUED
        small = SignupQueue(lambda a, c: None, SignupQueueStore(db), size=4)
        assert small.put("z@example.org", CHOICES, "192.0.2.1") is Admission.UNAVAILABLE
    finally:
        db.close()


@pytest.mark.serial  # it measures 40 ms slots to within 8 ms: run alone
def test_every_sign_up_takes_the_same_slot_whatever_its_work() -> None:
    """A new address costing 25 ms more than a known one does not move the next sign-up:
    the gaps after each kind have the same mean (to within 8 ms, where the work differs by
    25; the start within each slot is random) and average one slot."""
    slot = 0.04
    starts: list[tuple[float, str]] = []

    def work(address: str, choices: Choices) -> None:
        starts.append((time.monotonic(), address))
        time.sleep(0.03 if address.startswith("new") else 0.005)

    signups = SignupQueue(work, slot=slot, size=200)
    for n in range(40):
        signups.put(f"new{n}@example.org", CHOICES)
        signups.put(f"known{n}@example.org", CHOICES)
    signups.start()
    try:
        assert signups.wait_idle(30)
    finally:
        signups.stop()
    gaps: dict[str, list[float]] = {"new": [], "known": []}
    for (at, address), (following, _) in itertools.pairwise(starts):
        gaps["new" if address.startswith("new") else "known"].append(following - at)
    after_new, after_known = statistics.mean(gaps["new"]), statistics.mean(gaps["known"])
    assert abs(after_new - after_known) < 0.008, (after_new, after_known)
    assert statistics.mean(gaps["new"] + gaps["known"]) == pytest.approx(slot, abs=0.006)
