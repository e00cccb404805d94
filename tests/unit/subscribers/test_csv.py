"""Importing subscribers from CSV and exporting them safely."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from newsletter.errors import ImportFileError
from newsletter.store.db import open_database
from newsletter.store.subscribers import SubscriberStore
from newsletter.subscribers.csv_io import (
    export_subscribers,
    import_csv,
    neutralise,
    parse_categories,
)

GOOD_AND_BAD = (
    "email,categories,language\n"  # line 1
    "ada@example.org,LG CV,zh\n"  # 2
    "not-an-address,LG,en\n"  # 3
    "\n"  # 4: blank lines are skipped
    'grace@Bücher.de,"CL;AS|ro",EN\n'  # 5
    "alan@example.org,L1,en\n"  # 6: bad category
    '"multi\nline@example.org",LG,both\n'  # 7-8: a quoted newline
    "edsger@example.org,,fr\n"  # 9: bad language
    "barbara@example.org\n"  # 10: short row, defaults
    "ünïcode@example.org,LG,zh\n"  # 11: SMTPUTF8 local part
)


@pytest.fixture
def store(migrated_sqlite: Callable[[str], str]) -> Iterator[SubscriberStore]:
    db = open_database(migrated_sqlite("csv.db"))
    yield SubscriberStore(db)
    db.close()


def test_bad_rows_are_reported_by_line_and_good_rows_imported(store: SubscriberStore) -> None:
    """Every bad row is reported with its line number and reason; the good ones are stored."""
    report = import_csv(store, io.StringIO(GOOD_AND_BAD))
    assert [bad.line for bad in report.bad] == [3, 6, 7, 9, 11]
    reasons = dict((bad.line, bad.reason) for bad in report.bad)
    assert "not a valid email address" in reasons[3]
    assert "'L1' is not a category code" in reasons[6]
    assert "language must be one of zh, en, both, not 'fr'" in reasons[9]
    assert "Internationalized characters before the @" in reasons[11]
    assert report.summary() == "imported 3, already present 0, suppressed 0, bad 5"
    grace = store.find("grace@xn--bcher-kva.de")
    assert grace is not None
    assert (grace.status, grace.source, grace.language) == ("active", "import", "en")
    assert grace.categories == frozenset({"CL", "AS", "RO"})
    barbara = store.find("barbara@example.org")
    assert barbara is not None
    assert (barbara.categories, barbara.language) == (frozenset(), "both")


def test_rerunning_an_import_is_harmless(store: SubscriberStore) -> None:
    """A second run adds nothing, changes nobody, and counts the rows as already present."""
    import_csv(store, io.StringIO(GOOD_AND_BAD))
    ada = store.find("ada@example.org")
    assert ada is not None
    store.set_preferences(ada.id, categories={"RO"}, language="en")
    before = list(store.list())
    again = import_csv(store, io.StringIO(GOOD_AND_BAD))
    assert again.summary() == "imported 0, already present 3, suppressed 0, bad 5"
    assert list(store.list()) == before


def test_suppressed_addresses_are_never_reactivated(store: SubscriberStore) -> None:
    """Unsubscribed, bounced and erased addresses in a file are counted and left alone."""
    left = store.add("left@example.org", status="active")
    store.set_status(left.id, "unsubscribed", "one-click")
    store.suppress("bounced@example.org", "bounced")
    store.remove("erased@example.org")
    data = "email\nleft@example.org\nBOUNCED@example.org\nerased@example.org\nnew@example.org\n"
    report = import_csv(store, io.StringIO(data))
    assert report.summary() == "imported 1, already present 0, suppressed 3, bad 0"
    assert [(s.email, s.status) for s in store.list()] == [
        ("left@example.org", "unsubscribed"),
        ("new@example.org", "active"),
    ]


def test_duplicates_within_one_file_are_imported_once(store: SubscriberStore) -> None:
    """The same address twice (any case) is one subscriber, the second row 'already present'."""
    report = import_csv(store, io.StringIO("email\nsame@example.org\nSame@Example.org\n"))
    assert report.summary() == "imported 1, already present 1, suppressed 0, bad 0"


@pytest.mark.slow
def test_import_crosses_batch_boundaries(store: SubscriberStore) -> None:
    """Files longer than one batch are imported completely, in file order."""
    rows = "".join(f"user{i}@example.org,LG,en\n" for i in range(2500))
    report = import_csv(store, io.StringIO("email,categories,language\n" + rows))
    assert report.imported == 2500
    ids = [s.id for s in store.list()]
    assert ids == sorted(ids) and len(ids) == 2500
    first = next(store.list())
    assert first.email == "user0@example.org"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("", "the file is empty"),
        ("\n\n", "the file is empty"),
        ("ada@example.org,LG,zh\n", "must be a header"),
        ("mail,categories\nada@example.org,LG\n", "must be a header"),
    ],
)
def test_a_file_without_a_header_is_refused(
    store: SubscriberStore, data: str, message: str
) -> None:
    """No header with an email column: the whole file is refused and nothing stored."""
    with pytest.raises(ImportFileError, match=message):
        import_csv(store, io.StringIO(data))
    assert store.count() == 0


def test_undecodable_bytes_are_a_bad_row(store: SubscriberStore, tmp_path: Path) -> None:
    """A row with bytes that are not UTF-8 is reported; the rest of the file is imported."""
    path = tmp_path / "latin1.csv"
    path.write_bytes(b"email,categories\nok@example.org,LG\nb\xe9b\xe9@example.org,LG\n")
    with path.open(encoding="utf-8-sig", errors="surrogateescape", newline="") as file:
        report = import_csv(store, file)
    assert [(bad.line, bad.reason) for bad in report.bad] == [
        (3, "not UTF-8 text; save the file as UTF-8 CSV")
    ]
    assert report.imported == 1


def test_status_column_turns_unsubscribed_rows_into_suppressions(store: SubscriberStore) -> None:
    """Rows marked unsubscribed/bounced become suppressions; pending ones are reported bad."""
    data = "email,status\na@example.org,active\nu@example.org,unsubscribed\np@example.org,pending\n"
    report = import_csv(store, io.StringIO(data))
    assert report.summary() == "imported 1, already present 0, suppressed 1, bad 1"
    assert report.bad[0].line == 4
    suppression = store.suppression("u@example.org")
    assert suppression is not None and suppression.reason == "unsubscribed"
    assert store.find("u@example.org") is None


def test_category_separators() -> None:
    """Spaces, semicolons, bars and commas all separate category codes."""
    assert parse_categories(" lg;CV | cl,AS  ro ") == frozenset({"LG", "CV", "CL", "AS", "RO"})
    assert parse_categories("") == frozenset()


def test_export_neutralises_formula_cells(store: SubscriberStore) -> None:
    """Cells starting with = + - @ are quoted in the export, and the file imports back."""
    for address in ("=cmd@example.org", "+sum@example.org", "-x@example.org"):
        store.add(address, categories={"LG"}, language="zh", status="active")
    store.add("plain@example.org", status="active")
    out = io.StringIO()
    assert export_subscribers(store, out) == 4
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert [row["email"] for row in rows] == [
        "'=cmd@example.org",
        "'+sum@example.org",
        "'-x@example.org",
        "plain@example.org",
    ]
    for row in rows:
        assert not any(value.startswith(("=", "+", "-", "@", "\t", "\r")) for value in row.values())
    assert rows[0]["categories"] == "LG" and rows[0]["language"] == "zh"
    assert rows[0]["status"] == "active"

    db = open_database("sqlite:///copy.db")
    fresh = SubscriberStore(db)
    report = import_csv(fresh, io.StringIO(out.getvalue()))
    assert report.summary() == "imported 4, already present 0, suppressed 0, bad 0"
    assert [(s.email, s.categories, s.language) for s in fresh.list()] == [
        (s.email, s.categories, s.language) for s in store.list()
    ]
    db.close()


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_neutralise_quotes_every_formula_start(start: str) -> None:
    """Each character that starts a spreadsheet formula gets a leading single quote."""
    assert neutralise(f"{start}HYPERLINK(1)") == f"'{start}HYPERLINK(1)"
    assert neutralise(f"a{start}") == f"a{start}"


def test_rows_with_unknown_categories_are_bad_rows(store: SubscriberStore) -> None:
    """A row naming a code outside the known set is reported and skipped; others are imported."""
    data = (
        "email,categories,language,status\n"
        "ada@example.org,LG CV,zh,\n"
        "zed@example.org,ZZ,en,\n"
        "mix@example.org,LG;QQ;ZZ,both,\n"
        "gone@example.org,ZZ,en,unsubscribed\n"  # suppressing needs no known category
        "all@example.org,,en,\n"
    )
    report = import_csv(store, io.StringIO(data), known={"LG", "CV", "CL"})
    assert [(bad.line, bad.reason) for bad in report.bad] == [
        (3, "unknown category ZZ; known: CL, CV, LG"),
        (4, "unknown categories QQ, ZZ; known: CL, CV, LG"),
    ]
    assert report.summary() == "imported 2, already present 0, suppressed 1, bad 2"
    assert [s.email for s in store.list("active")] == ["ada@example.org", "all@example.org"]


@pytest.mark.slow
def test_a_stray_quote_swallows_no_rows(store: SubscriberStore) -> None:
    """An unmatched double quote makes its own line a bad row, reported with the span it
    would have swallowed; the 5,507 rows after it are imported."""
    rows = [f"r{n}@example.org,LG,en\n" for n in range(5507)]
    data = (
        "email,categories,language\n"
        "a@example.org,LG,en\nb@example.org,LG,en\nc@example.org,LG,en\n"
        '"stray@example.org,LG,en\n' + "".join(rows)
    )
    report = import_csv(store, io.StringIO(data))
    assert [bad.line for bad in report.bad] == [5]
    assert "unmatched double quote" in report.bad[0].reason
    assert "lines 5-" in report.bad[0].reason
    assert report.summary() == "imported 5510, already present 0, suppressed 0, bad 1"
    assert store.count("active") == 5510


def test_the_csv_round_trip_keeps_dates_and_quoted_addresses(
    store: SubscriberStore, migrated_sqlite: Callable[[str], str]
) -> None:
    """Export then import keeps created_at, confirmed_at and addresses starting with a quote."""
    for address in ("'quote@example.org", "'=both@example.org", "plain@example.org"):
        store.add(address, categories={"LG"}, language="zh", status="active")
    out = io.StringIO()
    export_subscribers(store, out)
    db = open_database(migrated_sqlite("copy.db"))
    try:
        fresh = SubscriberStore(db)
        report = import_csv(fresh, io.StringIO(out.getvalue()))
        assert report.summary() == "imported 3, already present 0, suppressed 0, bad 0"
        def key(s: object) -> tuple[object, ...]:
            return tuple(getattr(s, f) for f in
                         ("email", "categories", "language", "created_at", "confirmed_at"))
        assert sorted(map(key, fresh.list())) == sorted(map(key, store.list()))
    finally:
        db.close()
