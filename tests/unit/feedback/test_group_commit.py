"""GroupCommit: concurrent webhook events are applied together, each caller gets the outcome."""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from pathlib import Path

import pytest

from newsletter.feedback.apply import GroupCommit
from newsletter.feedback.ses_events import parse_ses_event
from newsletter.store.db import open_database
from newsletter.store.events import ApplyResult, EventStore, Received


class Gated:
    """The real store, whose first apply waits until the test opens the gate."""

    def __init__(self, store: EventStore) -> None:
        self.store = store
        self.gate = threading.Event()
        self.entered = threading.Event()
        self.sizes: list[int] = []

    def apply(self, batch: Sequence[Received]) -> ApplyResult:
        if not self.sizes:
            self.entered.set()
            self.gate.wait(10)
        self.sizes.append(len(batch))
        return self.store.apply(batch)


def received(n: int) -> Received:
    return Received(parse_ses_event(json.dumps(
        {"eventType": "Send", "mail": {"messageId": f"m-{n}", "destination": ["a@x.org"]}})))


def test_callers_arriving_during_a_commit_share_the_next_one(tmp_path: Path) -> None:
    """While one apply runs, the next 7 callers wait and are applied in one group."""
    engine = open_database(f"sqlite:///{tmp_path / 'g.db'}")
    sink = Gated(EventStore(engine))
    group = GroupCommit(sink)
    results: list[ApplyResult] = []
    first = threading.Thread(target=lambda: results.append(group.apply([received(0)])))
    first.start()
    assert sink.entered.wait(10)
    others = [threading.Thread(target=lambda n=n: results.append(group.apply([received(n)])))
              for n in range(1, 8)]
    for thread in others:
        thread.start()
    while len(group._pending) < 7:  # every caller is queued behind the running commit
        threading.Event().wait(0.01)
    sink.gate.set()
    for thread in [first, *others]:
        thread.join(10)
    assert sink.sizes == [1, 7]
    assert sorted(r.stored for r in results) == [1] + [7] * 7
    assert [r.fates for r in results] == [["stored"]] * 8  # each caller gets its own
    engine.dispose()


def test_a_failed_group_fails_every_caller_in_it(tmp_path: Path) -> None:
    """A database failure reaches each caller of the group (the webhook answers 500)."""

    class Broken:
        def apply(self, batch: Sequence[Received]) -> ApplyResult:
            raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        GroupCommit(Broken()).apply([received(1)])


def test_each_caller_of_a_group_learns_what_became_of_its_own_event(tmp_path: Path) -> None:
    """A duplicate and a new event committed together: each caller gets its own fate."""
    engine = open_database(f"sqlite:///{tmp_path / 'g.db'}")
    sink = Gated(EventStore(engine))
    group = GroupCommit(sink)
    fates: dict[str, list[str]] = {}
    first = threading.Thread(target=lambda: fates.update(first=group.apply([received(0)]).fates))
    first.start()
    assert sink.entered.wait(10)
    again = threading.Thread(target=lambda: fates.update(again=group.apply([received(0)]).fates))
    new = threading.Thread(target=lambda: fates.update(new=group.apply([received(1)]).fates))
    again.start()
    new.start()
    while len(group._pending) < 2:
        threading.Event().wait(0.01)
    sink.gate.set()
    for thread in (first, again, new):
        thread.join(10)
    assert sink.sizes == [1, 2]
    assert fates == {"first": ["stored"], "again": ["duplicate"], "new": ["stored"]}
    engine.dispose()
