"""The paper index's rows made in worker processes (issue 20): the same rows, COPY text
and FTS5 texts as made in this process, and the same index on both databases."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from typing import Any

import pytest
from support.env import SAMPLE_ISSUE

from newsletter.issues.loader import load_issue
from newsletter.issues.papers import issue_papers
from newsletter.store import paper_rows
from newsletter.store.db import Database, make_engine, upgrade
from newsletter.store.paper_rows import (
    copy_field,
    prepare,
    prepare_all,
    row_workers,
    to_json,
)
from newsletter.store.papers import PaperStore

SAMPLE = issue_papers(load_issue(SAMPLE_ISSUE))
AWKWARD = "Tabs\there,\nnew lines\r\n, a \\N, back\\slash \\. 引号"


def test_copy_fields_escape_what_the_text_format_reads_as_syntax() -> None:
    assert copy_field(AWKWARD) == (
        "Tabs\\there,\\nnew lines\\r\\n, a \\\\N, back\\\\slash \\\\. 引号")
    assert copy_field("plain 文字") == "plain 文字"


@pytest.mark.slow
def test_worker_processes_give_what_this_process_gives(monkeypatch: pytest.MonkeyPatch
                                                       ) -> None:
    """Two real worker processes (spawned) prepare every batch as :func:`prepare` does
    here, in order, for PostgreSQL and for SQLite."""
    pools: list[ProcessPoolExecutor] = []

    class Counted(ProcessPoolExecutor):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            pools.append(self)

    monkeypatch.setattr(paper_rows, "PARALLEL_FROM", 1)
    monkeypatch.setattr("newsletter.issues.many.ProcessPoolExecutor", Counted)
    datas = [to_json(replace(p, title=f"{p.title} {AWKWARD}")) for p in SAMPLE]
    batches = [datas[n : n + 3] for n in range(0, len(datas), 3)]
    for postgresql in (True, False):
        here = [prepare(batch, postgresql) for batch in batches]
        with row_workers(len(datas)) as workers:
            assert workers is not None and workers.count >= 2
            assert list(prepare_all(batches, postgresql, workers)) == here
    assert len(pools) == 2  # one pool of workers for each database's rows
    with row_workers(len(datas)) as workers:
        assert list(prepare_all(batches, True, None)) == [prepare(b, True) for b in batches]
    monkeypatch.setattr(paper_rows, "PARALLEL_FROM", len(datas) + 1)
    with row_workers(len(datas)) as workers:
        assert workers is None  # too few papers for workers: none started
    assert len(pools) == 3


@pytest.fixture
def store(database_url: str) -> Iterator[PaperStore]:
    upgrade(database_url)
    db = Database(make_engine(database_url))
    yield PaperStore(db)
    db.close()


@pytest.mark.slow
def test_a_change_prepared_by_workers_is_the_same_index(store: PaperStore,
                                                        monkeypatch: pytest.MonkeyPatch
                                                        ) -> None:
    """The sample issue written from rows the worker processes made: every paper comes
    back whole and is found by its title, on both databases."""
    monkeypatch.setattr(paper_rows, "PARALLEL_FROM", 1)
    monkeypatch.setattr("newsletter.store.papers._CHUNK", 4)
    assert store.apply({"2022-09-07": ("v1", SAMPLE)}) == len(SAMPLE)
    for record in SAMPLE:
        assert store.get(record.arxiv_id) == record
        assert record.arxiv_id in [p.arxiv_id for p in store.search(record.title).papers]
