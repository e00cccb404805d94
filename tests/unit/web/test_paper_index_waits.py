"""A reader's request does not wait while another thread of the process brings the paper
index up to date (found by trying it: every search and paper page hung 10-27 s while
`serve` re-indexed 200 changed issues); it answers from the index as it is. Before the
first sync of the process it does wait: a paper page must not be a 404 at start-up."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from newsletter.web import paper_index
from newsletter.web.paper_index import PaperIndex, SyncReport


class Archive:
    def __init__(self, folder: Path) -> None:
        self.site = SimpleNamespace(issues_dir=folder)
        self.key: tuple[object, ...] = ("v1",)

    def published(self, fresh: bool = False) -> Any:
        return SimpleNamespace(key=self.key)


def test_a_request_answers_while_another_thread_syncs(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    started, release = threading.Event(), threading.Event()
    syncs: list[str] = []

    def sync(store: object, published: Any, wait: bool = True) -> SyncReport:
        syncs.append(str(published.key))
        if len(syncs) == 2:  # the second sync, of a changed archive, takes long
            started.set()
            assert release.wait(20)
        return SyncReport(1, 0, 1)

    monkeypatch.setattr(paper_index, "sync", sync)
    archive = Archive(tmp_path)
    index = PaperIndex(object(), archive)  # type: ignore[arg-type]
    index.current(wait=False)  # the first sync: waited for, whatever ``wait`` says
    archive.key = ("v2",)
    syncing = threading.Thread(target=index.current)
    syncing.start()
    try:
        assert started.wait(10)
        began = time.monotonic()
        assert index.current(wait=False).key == ("v2",)
        assert time.monotonic() - began < 1.0
        assert syncs == ["('v1',)", "('v2',)"]  # the request started no sync of its own
    finally:
        release.set()
        syncing.join(10)


def test_before_the_first_sync_a_request_waits(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    done: list[bool] = []

    def sync(store: object, published: Any, wait: bool = True) -> SyncReport:
        time.sleep(0.3)
        done.append(True)
        return SyncReport(1, 0, 1)

    monkeypatch.setattr(paper_index, "sync", sync)
    index = PaperIndex(object(), Archive(tmp_path))  # type: ignore[arg-type]
    warming = threading.Thread(target=index.current)
    warming.start()
    time.sleep(0.05)
    index.current(wait=False)
    assert done  # it waited for the warming thread's sync (or did its own)
    warming.join(10)
