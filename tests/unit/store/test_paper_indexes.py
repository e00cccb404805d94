"""PostgreSQL's search indexes of the paper index (issue 20): a large change builds them
again at once, searches are not locked out while it writes, a dead process's
missing index is built by the next change, and search reads both halves."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import event, text
from support.env import SAMPLE_ISSUE

from newsletter.issues.loader import load_issue
from newsletter.issues.papers import issue_papers
from newsletter.store import paper_indexes
from newsletter.store import papers as paper_module
from newsletter.store.db import Database, make_engine, upgrade
from newsletter.store.papers import PaperStore

SAMPLE = issue_papers(load_issue(SAMPLE_ISSUE))
NAMES = {"ix_papers_search_even", "ix_papers_search_odd", "ix_papers_title_search"}


@pytest.fixture
def store(migrated_postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[PaperStore]:
    """PostgreSQL, where any change of two papers or more is a large one."""
    monkeypatch.setattr(paper_module, "_BULK", 2)
    upgrade(migrated_postgres_url)
    db = Database(make_engine(migrated_postgres_url))
    yield PaperStore(db)
    db.close()


def indexes(store: PaperStore) -> set[str]:
    with store.engine.connect() as conn:
        return {str(name) for name in conn.execute(text(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'papers'")).scalars()}


def found(store: PaperStore, query: str) -> list[str]:
    return [p.arxiv_id for p in store.search(query, limit=100).papers]


def lock_is_free(store: PaperStore) -> bool:
    with store.engine.connect() as conn:
        free = bool(conn.execute(text(
            "SELECT pg_try_advisory_lock(hashtext('newsletter papers'))")).scalar_one())
        if free:
            conn.execute(text("SELECT pg_advisory_unlock(hashtext('newsletter papers'))"))
        return free


def test_the_search_indexes_are_declared_as_the_module_builds_them() -> None:
    assert {str(index.name) for index in paper_indexes.SEARCH_INDEXES} == NAMES
    assert "title" in str(paper_indexes.SEARCH_INDEXES[-1].name)  # the small one last


def test_a_large_change_builds_every_index_again_and_lets_go_of_the_lock(
        store: PaperStore) -> None:
    store.apply({"2022-09-07": ("v1", SAMPLE)})
    assert indexes(store) >= NAMES
    assert found(store, "sparse expert models") == ["2209.01667"]
    assert lock_is_free(store)


@pytest.mark.slow
def test_searches_go_on_while_a_large_change_writes(store: PaperStore,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """While the change's transaction writes (its indexes dropped), a search from another
    connection answers at once, from the papers as they were."""
    store.apply({"2022-09-07": ("v1", SAMPLE[:5])})
    before = found(store, SAMPLE[0].title)
    assert SAMPLE[0].arxiv_id in before
    answers: list[list[str]] = []
    real = paper_module._write

    def search_meanwhile(*args: object) -> None:
        if not answers:
            worker = threading.Thread(target=lambda: answers.append(
                found(store, SAMPLE[0].title)))
            worker.start()
            worker.join(timeout=20)
            assert answers, "a search waited for the change's transaction"
        real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(paper_module, "_write", search_meanwhile)
    store.apply({"2022-09-07": ("v2", SAMPLE)})
    assert answers == [before]
    assert indexes(store) >= NAMES


def test_the_next_change_builds_an_index_a_dead_process_left_missing(
        store: PaperStore, caplog: pytest.LogCaptureFixture) -> None:
    """A process killed between dropping the indexes and building them leaves them
    missing; any next change, even one that changes nothing, builds them first."""
    store.apply({"2022-09-07": ("v1", SAMPLE)})
    with store.engine.begin() as conn:
        conn.execute(text("DROP INDEX ix_papers_search_odd"))
        conn.execute(text("DROP INDEX ix_papers_title_search"))
    assert not indexes(store) >= NAMES
    with caplog.at_level(logging.WARNING, logger="newsletter.store.paper_indexes"):
        assert store.apply({}) == 0
    assert indexes(store) >= NAMES
    said = [r.getMessage() for r in caplog.records if "missing search indexes" in r.getMessage()]
    assert len(said) == 1
    assert "ix_papers_search_odd" in said[0] and "ix_papers_title_search" in said[0]
    assert "ix_papers_search_even" not in said[0]
    caplog.clear()
    store.apply({})
    assert not any("missing" in r.getMessage() for r in caplog.records)  # nothing to say


def test_a_failed_large_change_lets_go_of_the_lock(store: PaperStore,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A change that fails after dropping the indexes lets go of the lock; the next one
    writes its papers and leaves every index built."""
    real = paper_module._write

    def refused(*args: object) -> None:
        raise RuntimeError("refused")

    monkeypatch.setattr(paper_module, "_write", refused)
    with pytest.raises(RuntimeError, match="refused"):
        store.apply({"2022-09-07": ("v1", SAMPLE)})
    assert lock_is_free(store)
    assert store.versions() == {}
    monkeypatch.setattr(paper_module, "_write", real)
    assert store.apply({"2022-09-07": ("v1", SAMPLE)}) == len(SAMPLE)
    assert indexes(store) >= NAMES


@pytest.mark.slow
def test_search_reads_both_halves_of_the_vectors_index(store: PaperStore) -> None:
    """The plan of search's statement for matches beyond the titles asks both halves."""
    store.apply({"2022-09-07": ("v1", SAMPLE)})
    statements: list[tuple[str, object]] = []

    def record(conn: object, cursor: object, statement: str, parameters: object,
               context: object, executemany: bool) -> None:
        if "ts_rank" in statement and "id, search AS vector" in statement:
            statements.append((statement, parameters))

    event.listen(store.engine, "before_cursor_execute", record)
    try:
        assert "2209.01667" in found(store, "experts")
    finally:
        event.remove(store.engine, "before_cursor_execute", record)
    assert len(statements) == 1
    statement, parameters = statements[0]
    with store.engine.begin() as conn:
        conn.execute(text("SET LOCAL enable_seqscan = off"))
        plan = "\n".join(conn.exec_driver_sql(
            "EXPLAIN " + statement, parameters).scalars())  # type: ignore[arg-type]
    assert "ix_papers_search_even" in plan and "ix_papers_search_odd" in plan, plan


def test_a_change_that_must_not_wait_does_nothing_while_another_runs(
        store: PaperStore) -> None:
    """While another process holds the index's lock (its change under way), a change
    asked not to wait (the app's periodic recheck) returns None and writes nothing; once
    the lock is free it goes ahead."""
    with store.engine.connect() as other:
        other.execute(text("SELECT pg_advisory_lock(hashtext('newsletter papers'))"))
        other.commit()
        try:
            assert store.apply({"2022-09-07": ("v1", SAMPLE)}, wait=False) is None
            assert store.versions() == {}
        finally:
            other.execute(text("SELECT pg_advisory_unlock(hashtext('newsletter papers'))"))
            other.commit()
    assert store.apply({"2022-09-07": ("v1", SAMPLE)}, wait=False) == len(SAMPLE)
    assert lock_is_free(store)


def test_vectors_are_stored_as_they_are_and_json_compressed(store: PaperStore) -> None:
    """Migration 0019: no pglz attempt on the vectors (they seldom compress; the attempts
    were a tenth of the server's CPU in a build), the JSON with LZ4 where the server has
    it. A paper stores and reads back whole either way."""
    store.apply({"2022-09-07": ("v1", SAMPLE)})
    with store.engine.connect() as conn:
        storage = dict(conn.execute(text(
            "SELECT attname, attstorage FROM pg_attribute WHERE attrelid = 'papers'::regclass "
            "AND attname IN ('search', 'title_search', 'data')")).all())
        assert storage == {"search": "e", "title_search": "e", "data": "x"}
        choices = conn.execute(text("SELECT enumvals FROM pg_settings "
                                    "WHERE name = 'default_toast_compression'")).scalar_one()
        longest = conn.execute(text(
            "SELECT pg_column_compression(data), pg_column_compression(search), "
            "octet_length(search::text) FROM papers ORDER BY length(data) DESC LIMIT 1")).one()
    assert longest[2] > 2000  # long enough for PostgreSQL to store it out of line
    assert longest[1] is None  # the vector: stored uncompressed
    assert longest[0] == ("lz4" if "lz4" in choices else "pglz")
    for record in SAMPLE:
        assert store.get(record.arxiv_id) == record
