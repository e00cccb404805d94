"""The paper index in the database, on SQLite and on a real PostgreSQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import replace

import pytest
from support.env import SAMPLE_ISSUE

from newsletter.issues.loader import load_issue
from newsletter.issues.papers import issue_papers
from newsletter.model.papers import Appearance, PaperRecord
from newsletter.store.db import Database, make_engine, upgrade
from newsletter.store.papers import PaperStore

SAMPLE = load_issue(SAMPLE_ISSUE)


@pytest.fixture
def store(database_url: str) -> Iterator[PaperStore]:
    upgrade(database_url)
    db = Database(make_engine(database_url))
    yield PaperStore(db)
    db.close()


def paper(arxiv_id: str, date: str, title: str, **extra: object) -> PaperRecord:
    fields: dict[str, object] = {
        "category": "LG", "title_zh": None, "authors": ("A Author",),
        "authors_truncated": False, "affiliations": (), "abstract": "An abstract.",
        "summary_zh": None,
        "appearances": (Appearance(dt.date.fromisoformat(date), "featured", 0, "a"),),
    }
    fields.update(extra)
    return PaperRecord(arxiv_id=arxiv_id, title=title, **fields)  # type: ignore[arg-type]


def ids(store: PaperStore, query: str, **filters: object) -> list[str]:
    return [p.arxiv_id for p in store.search(query, **filters).papers]  # type: ignore[arg-type]


def test_search_finds_words_authors_and_two_character_chinese(store: PaperStore) -> None:
    """English words, an author, a two-character Chinese word and an old-style id all find
    their paper, and only papers that contain every part of the query."""
    store.apply({"2022-09-07": ("v1", issue_papers(SAMPLE))})
    assert ids(store, "sparse expert models") == ["2209.01667"]
    assert ids(store, "Wulfmeier") == ["2209.01947"]
    assert "2209.01667" in ids(store, "稀疏")  # 深度学习稀疏专家模型综述
    assert ids(store, "稀疏 Fedus") == ["2209.01667"]
    assert ids(store, "sparse nonexistentword") == []
    assert store.get("2209.01947") is not None and store.get("2209.99999") is None


def test_titles_rank_above_abstracts(store: PaperStore) -> None:
    """A word in a title outranks the same word in an abstract."""
    store.apply({"2022-01-01": ("v1", [
        paper("2201.00001", "2022-01-01", "Something else", abstract="About graphs."),
        paper("2201.00002", "2022-01-01", "Graphs for everyone"),
    ])})
    assert ids(store, "graphs") == ["2201.00002", "2201.00001"]


def test_a_paper_in_two_issues_is_one_record_and_edits_replace(store: PaperStore) -> None:
    """Two issues with one paper give one record with both appearances; editing an issue
    replaces its papers, removing one drops what only it had."""
    store.apply({
        "2022-01-01": ("v1", [paper("hep-th/9901001", "2022-01-01", "Old title")]),
        "2022-02-01": ("v1", [paper("hep-th/9901001", "2022-02-01", "New title"),
                              paper("2202.00002", "2022-02-01", "Second")]),
    })
    record = store.get("hep-th/9901001")
    assert record is not None and record.title == "New title"
    assert [a.date.isoformat() for a in record.appearances] == ["2022-01-01", "2022-02-01"]
    store.apply({"2022-02-01": ("v2", [paper("2202.00002", "2022-02-01", "Second, edited")])})
    record = store.get("hep-th/9901001")
    assert record is not None and record.title == "Old title" and len(record.appearances) == 1
    assert ids(store, "edited") == ["2202.00002"] and ids(store, "new title") == []
    store.apply({}, removed=["2022-02-01"])
    assert store.get("2202.00002") is None and ids(store, "second") == []
    assert store.versions() == {"2022-01-01": "v1"}


def test_filters_by_category_and_year(store: PaperStore) -> None:
    """Category and year narrow the results; with no words they list the papers."""
    store.apply({
        "2021-05-01": ("v1", [paper("2105.00001", "2021-05-01", "Vision one", category="CV")]),
        "2022-05-01": ("v1", [paper("2205.00001", "2022-05-01", "Vision two", category="CV"),
                              paper("2205.00002", "2022-05-01", "Vision three")]),
    })
    assert ids(store, "vision", category="CV", year=2022) == ["2205.00001"]
    assert sorted(ids(store, "", category="CV")) == ["2105.00001", "2205.00001"]
    assert store.facets() == (["CV", "LG"], [2022, 2021])


@pytest.mark.parametrize("query", [
    '"', "'", "AND", "a OR b NOT c", "NEAR(a b)", "title:x", "*", "^x", "x:*", "!()&|<->",
    "\\", "\x00", "'; DROP TABLE papers; --", "稀", "𝔘𝔫𝔦", "x" * 10_000,
])
def test_any_query_is_answered(store: PaperStore, query: str) -> None:
    """Query syntax of either database, quotes and junk are text: a page, never an error."""
    store.apply({"2022-09-07": ("v1", issue_papers(SAMPLE))})
    page = store.search(query)
    assert isinstance(page.papers, tuple)


def test_pages_and_more(store: PaperStore) -> None:
    """Results come a page at a time, and say whether another page follows."""
    store.apply({"2022-01-01": ("v1", [paper(f"2201.0000{n}", "2022-01-01", f"Graph {n}")
                                        for n in range(5)])})
    first = store.search("graph", limit=3)
    second = store.search("graph", limit=3, offset=3)
    assert (len(first.papers), first.more, len(second.papers), second.more) == (3, True, 2, False)
    assert not {p.arxiv_id for p in first.papers} & {p.arxiv_id for p in second.papers}
    assert replace(first.papers[0], appearances=()) != first.papers[0]


def test_a_large_change_rebuilds_the_search_indexes(store: PaperStore,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """A change of many papers (the first build) gives the same search results when
    PostgreSQL's search indexes are rebuilt at once rather than grown row by row."""
    monkeypatch.setattr("newsletter.store.papers._BULK", 2)
    store.apply({"2022-09-07": ("v1", issue_papers(SAMPLE))})
    assert ids(store, "sparse expert models") == ["2209.01667"]
    assert "2209.01667" in ids(store, "稀疏")
    store.apply({"2022-01-01": ("v1", [paper("2201.00001", "2022-01-01", "Graphs")])})
    assert ids(store, "graphs") == ["2201.00001"]
