"""Stray double quotes in a subscriber CSV lose no rows silently (issue #24, item 3).

A quote opens a quoted cell only at the start of a cell, as in every CSV reader; one in
the middle of a cell is a character of that cell. Every line of the file is either
imported or reported with its line and the reason.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator

import pytest

from newsletter.store.db import open_database
from newsletter.store.subscribers import SubscriberStore
from newsletter.subscribers.csv_io import import_csv


@pytest.fixture
def store(migrated_sqlite: Callable[[str], str]) -> Iterator[SubscriberStore]:
    db = open_database(migrated_sqlite("csv.db"))
    yield SubscriberStore(db)
    db.close()


def test_two_stray_quotes_four_lines_apart_lose_nothing(store: SubscriberStore) -> None:
    """Two mid-cell quotes make two bad rows; the three rows between them are imported."""
    data = (
        "email,language\n"  # 1
        "a@example.org,zh\n"  # 2
        'b"x@example.org,en\n'  # 3: a stray quote
        "c@example.org,en\n"  # 4
        "d@example.org,en\n"  # 5
        "e@example.org,en\n"  # 6
        'f"y@example.org,en\n'  # 7: another
        "g@example.org,en\n"  # 8
    )
    report = import_csv(store, io.StringIO(data))
    assert [bad.line for bad in report.bad] == [3, 7]
    assert all("not a valid email address" in bad.reason for bad in report.bad)
    assert report.summary() == "imported 5, already present 0, suppressed 0, bad 2"
    assert sorted(s.email[0] for s in store.list("active")) == list("acdeg")


def test_a_quoted_cell_over_several_lines_names_the_lines_it_took(
    store: SubscriberStore,
) -> None:
    """A quote at a cell's start that closes four lines later makes one record; when that
    record is bad, its report names every line it took, so none is lost unseen."""
    data = (
        "email,language\n"  # 1
        '"b@example.org,en\n'  # 2: opens a cell ...
        "c@example.org,en\n"  # 3
        "d@example.org,en\n"  # 4
        'e@example.org",en\n'  # 5: ... closed here
        "f@example.org,en\n"  # 6
    )
    report = import_csv(store, io.StringIO(data))
    assert [bad.line for bad in report.bad] == [2]
    assert "lines 2-5" in report.bad[0].reason
    assert report.summary() == "imported 1, already present 0, suppressed 0, bad 1"


def test_every_line_is_imported_or_reported(store: SubscriberStore) -> None:
    """Quotes scattered at random: imported + reported lines cover the file."""
    lines = []
    for n in range(200):
        quote = '"' if n % 7 == 3 else ""
        lines.append(f"r{n}{quote}@example.org,en\n")
    report = import_csv(store, io.StringIO("email,language\n" + "".join(lines)))
    assert report.imported + len(report.bad) == 200
    assert [bad.line for bad in report.bad] == [n + 2 for n in range(200) if n % 7 == 3]
