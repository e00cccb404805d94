"""The CSV columns of issue 21: ``frequency``, ``max_papers`` and ``follows``, in and out."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator

import pytest

from newsletter.model.editions import ReaderPreferences, parse_preferences
from newsletter.store.db import Database, open_database
from newsletter.store.editions import PreferenceStore
from newsletter.store.subscribers import SubscriberStore
from newsletter.subscribers.csv_io import export_subscribers, import_csv

ROWS = (
    "email,language,frequency,max_papers,follows\n"  # line 1
    "daily@example.org,zh,daily,,\n"  # 2
    "weekly@example.org,en,weekly:TUE,3,author:Kaiming He; diffusion\n"  # 3
    'paused@example.org,both,paused:2026-12-09,10,"affiliation:Tsinghua University;扩散模型"\n'  # 4
    "bad-frequency@example.org,en,monthly,,\n"  # 5
    "bad-max@example.org,en,daily,4,\n"  # 6
    "bad-follow@example.org,en,daily,,author:\n"  # 7
    "plain@example.org,en\n"  # 8: no cells: the default
)


@pytest.fixture
def db(migrated_sqlite: Callable[[str], str]) -> Iterator[Database]:
    opened = open_database(migrated_sqlite("csv.db"))
    yield opened
    opened.close()


def _prefs(db: Database, email: str) -> ReaderPreferences:
    reader = SubscriberStore(db).find(email)
    assert reader is not None
    return PreferenceStore(db).get(reader.id)


def test_import_reads_the_three_columns_and_reports_bad_cells(db: Database) -> None:
    """Good cells are stored with the reader; a bad cell makes a bad row naming the column
    and what it may hold, and nothing of that row is stored."""
    report = import_csv(SubscriberStore(db), io.StringIO(ROWS))
    assert report.imported == 4
    reasons = {bad.line: bad.reason for bad in report.bad}
    assert set(reasons) == {5, 6, 7}
    assert "frequency 'monthly' is not daily, weekly:MON" in reasons[5]
    assert "max_papers '4' is not empty (all) or one of 10, 5, 3" in reasons[6]
    assert "names nothing" in reasons[7]
    assert SubscriberStore(db).find("bad-max@example.org") is None
    assert _prefs(db, "weekly@example.org") == parse_preferences(
        "weekly:TUE", "3", "author:Kaiming He; diffusion")
    assert _prefs(db, "paused@example.org") == parse_preferences(
        "paused:2026-12-09", "10", "affiliation:Tsinghua University; 扩散模型")
    assert _prefs(db, "plain@example.org") == _prefs(db, "daily@example.org")
    assert _prefs(db, "plain@example.org") == ReaderPreferences()


def test_export_writes_the_columns_and_imports_back_unchanged(
    db: Database, migrated_sqlite: Callable[[str], str],
) -> None:
    """The export has the columns ``frequency``, ``max_papers`` (empty for all) and
    ``follows`` (``;``-separated); importing it into an empty list gives the same choices."""
    import_csv(SubscriberStore(db), io.StringIO(ROWS))
    out = io.StringIO()
    export_subscribers(SubscriberStore(db), out)
    rows = {row["email"]: row for row in csv.DictReader(io.StringIO(out.getvalue()))}
    assert list(rows["weekly@example.org"])[-3:] == ["frequency", "max_papers", "follows"]
    assert (rows["weekly@example.org"]["frequency"], rows["weekly@example.org"]["max_papers"],
            rows["weekly@example.org"]["follows"]) == ("weekly:TUE", "3",
                                                       "author:Kaiming He; diffusion")
    assert (rows["plain@example.org"]["frequency"], rows["plain@example.org"]["max_papers"],
            rows["plain@example.org"]["follows"]) == ("daily", "", "")
    other = open_database(migrated_sqlite("other.db"))
    try:
        again = import_csv(SubscriberStore(other), io.StringIO(out.getvalue()))
        assert again.imported == 4 and not again.bad
        for email in rows:
            assert _prefs(other, email) == _prefs(db, email)
    finally:
        other.close()
