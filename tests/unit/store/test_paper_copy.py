"""Papers written by COPY on PostgreSQL (issue 20): text the COPY format must escape
(tabs, newlines, backslashes, ``\\N``) comes back as written, on both databases."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator

import pytest

from newsletter.model.papers import Appearance, PaperRecord
from newsletter.store.db import Database, make_engine, upgrade
from newsletter.store.papers import PaperStore

AWKWARD = "Tabs\there,\nnew lines\r\n, a \\N, back\\slash \\. and \x7f 引号\"'"


@pytest.fixture
def store(database_url: str) -> Iterator[PaperStore]:
    upgrade(database_url)
    db = Database(make_engine(database_url))
    yield PaperStore(db)
    db.close()


def test_text_copy_must_escape_comes_back_unchanged(store: PaperStore) -> None:
    record = PaperRecord(
        arxiv_id="2201.00001", category="LG", title=f"Graphs {AWKWARD}", title_zh=AWKWARD,
        authors=(AWKWARD, "Ada Lovelace"), authors_truncated=False, affiliations=(AWKWARD,),
        abstract=AWKWARD, summary_zh=AWKWARD,
        appearances=(Appearance(dt.date(2022, 1, 1), "featured", 0, AWKWARD),))
    store.apply({"2022-01-01": ("v1", [record])})
    assert store.get("2201.00001") == record
    assert [p.arxiv_id for p in store.search("lovelace slash").papers] == ["2201.00001"]
    assert [p.arxiv_id for p in store.search("引号").papers] == ["2201.00001"]
    # A second issue with the paper: the first one's appearance is read back from its
    # COPY-written row and merged.
    again = dataclasses.replace(record, appearances=(
        Appearance(dt.date(2022, 1, 2), "notable", 3, f"{AWKWARD}2"),))
    store.apply({"2022-01-02": ("v1", [again])})
    merged = store.get("2201.00001")
    assert merged is not None
    assert merged.appearances == (*record.appearances, *again.appearances)
