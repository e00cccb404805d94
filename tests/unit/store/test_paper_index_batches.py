"""The paper index written in batches, one thread writing while the next is prepared."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest
from support.env import SAMPLE_ISSUE

from newsletter.issues.loader import load_issue
from newsletter.issues.papers import issue_papers
from newsletter.model.papers import PaperRecord
from newsletter.store import papers as paper_module
from newsletter.store.db import Database, make_engine, upgrade
from newsletter.store.papers import PaperStore

SAMPLE = load_issue(SAMPLE_ISSUE)


@pytest.fixture
def store(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[PaperStore]:
    """A store writing batches of two papers, so that a whole issue takes many batches."""
    monkeypatch.setattr("newsletter.store.papers._CHUNK", 2)
    upgrade(database_url)
    db = Database(make_engine(database_url))
    yield PaperStore(db)
    db.close()


def found(store: PaperStore, query: str) -> list[str]:
    return [p.arxiv_id for p in store.search(query, limit=100).papers]


def test_batches_write_every_paper_and_replace_them(store: PaperStore) -> None:
    """Every paper of an issue written in many batches is found; the issue edited and
    written again in batches leaves no stale search row behind, nor a lost paper."""
    papers = issue_papers(SAMPLE)
    assert len(papers) > 4
    store.apply({"2022-09-07": ("v1", papers)})
    for record in papers:
        assert store.get(record.arxiv_id) == record
        assert record.arxiv_id in found(store, record.title)
    edited: list[PaperRecord] = [replace(record, title=f"Rewritten {n} quokka")
                                 for n, record in enumerate(papers[1:])]
    store.apply({"2022-09-07": ("v2", edited)})
    assert store.get(papers[0].arxiv_id) is None
    assert found(store, papers[0].title) == []
    assert sorted(found(store, "quokka")) == sorted(r.arxiv_id for r in edited)
    assert found(store, "Rewritten 3 quokka")[0] == edited[3].arxiv_id


def test_a_failing_batch_writes_nothing(store: PaperStore,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """A batch that fails in the writing thread fails the change, which is rolled back
    whole: the index is as before. (A fault SQLite cannot be made to give on a valid row,
    hence the stand-in for the second batch's write.)"""
    store.apply({"2022-01-01": ("v1", issue_papers(SAMPLE)[:1])})
    before = store.versions()
    written = []
    real = paper_module._write

    def second_fails(*args: object) -> None:
        written.append(args)
        if len(written) == 2:
            raise RuntimeError("refused")
        real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(paper_module, "_write", second_fails)
    with pytest.raises(RuntimeError, match="refused"):
        store.apply({"2022-09-07": ("v1", issue_papers(SAMPLE))})
    assert len(written) == 2
    assert store.versions() == before
    assert found(store, issue_papers(SAMPLE)[-1].title) == []
