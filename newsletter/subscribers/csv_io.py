"""Subscriber lists as CSV: import with per-row reports, export safe to open in a spreadsheet.

Import format: a header row naming the columns ``email`` (required), ``categories`` and
``language`` (optional, in any order; ``created_at`` and ``confirmed_at``, as an export
writes them, are kept; other columns are ignored). Categories are codes
separated by spaces, ``;``, ``|`` or ``,`` (empty means every category); language is
zh, en or both (empty means both). When the file has a ``status`` column (an export does),
rows marked unsubscribed, bounced or complained become suppressions instead of subscribers.
The columns ``frequency``, ``max_papers`` and ``follows`` are described in ``csv_editions``.

The store knows nothing of issues: the caller passes the category codes readers may
choose (``newsletter.issues.categories.available_categories``), and a row naming any other code
is a bad row.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol, TextIO

from newsletter.errors import ImportFileError, InvalidAddressError, InvalidPreferencesError
from newsletter.model.addresses import normalize_email
from newsletter.model.editions import ReaderPreferences
from newsletter.model.subscribers import (
    NewSubscriber,
    Subscriber,
    check_preferences,
)
from newsletter.store.editions import PreferenceStore
from newsletter.store.subscribers import SubscriberStore
from newsletter.subscribers.csv_editions import EDITION_COLUMNS, edition_cells, read_edition_cells
from newsletter.subscribers.csv_records import BadRow, records
from newsletter.vocabulary import SUPPRESSED_STATUSES, SubscriberStatus

# A spreadsheet runs a cell starting with one of these as a formula (CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
EXPORT_COLUMNS = (
    "email", "categories", "language", "status", "source", "created_at", "confirmed_at",
    *EDITION_COLUMNS)  # fmt: skip
_SEPARATORS = re.compile(r"[\s;|,]+")
BATCH_SIZE = 1000


@dataclass
class ImportReport:
    """What an import did: counts of rows by outcome, and every bad row."""

    imported: int = 0
    already_present: int = 0
    suppressed: int = 0
    bad: list[BadRow] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"imported {self.imported}, already present {self.already_present}, "
            f"suppressed {self.suppressed}, bad {len(self.bad)}"
        )


@dataclass(frozen=True)
class _Suppress:
    """A row whose status says the address must not be mailed."""

    email: str
    status: str


def neutralise(cell: str) -> str:
    """``cell`` prefixed with a single quote when a spreadsheet would run it as a formula,
    or when it starts with a quote itself (so that import removes exactly the one added)."""
    return "'" + cell if cell.startswith((*FORMULA_START, "'")) else cell


def _restore(cell: str) -> str:
    # Undo neutralise() so an export imports back unchanged.
    if cell.startswith("'") and cell[1:2] and cell[1:2] in (*FORMULA_START, "'"):
        return cell[1:]
    return cell


def parse_categories(cell: str) -> frozenset[str]:
    """Category codes from one cell: separated by spaces, ``;``, ``|`` or ``,``; upper-cased."""
    return frozenset(code.upper() for code in _SEPARATORS.split(cell) if code)


def read_rows(
    lines: Iterable[str], known: Collection[str] | None = None
) -> Iterator[NewSubscriber | _Suppress | BadRow]:
    """Parse and check every row of a subscriber CSV, in file order.

    A row with a category code not in ``known`` is bad (``None`` checks only the codes'
    form). Nothing is stored. Raises :class:`ImportFileError` when there is no usable header.
    """
    return (row for _, row in _numbered_rows(lines, known))


def _numbered_rows(
    lines: Iterable[str], known: Collection[str] | None
) -> Iterator[tuple[int, NewSubscriber | _Suppress | BadRow]]:
    """:func:`read_rows`, each row with the line it starts on."""
    known_set = None if known is None else frozenset(known)
    columns: dict[str, int] | None = None
    for item in records(lines):
        if isinstance(item, BadRow):
            yield item.line, item
            continue
        line, record, last = item
        if not any(cell.strip() for cell in record):
            continue
        if columns is None:
            columns = _header(record)
            continue
        row = _check_row(line, record, columns, known_set)
        if isinstance(row, BadRow) and last > line:
            # The lines a quoted cell took are not rows of their own: say which they were.
            row = BadRow(line, f"{row.reason} (a quoted cell made lines {line}-{last} "
                         "one row; none of them was imported)")
        yield line, row
    if columns is None:
        raise ImportFileError("the file is empty; the first line must name the columns")


def _header(record: list[str]) -> dict[str, int]:
    names = [cell.strip().lower().lstrip("\ufeff") for cell in record]
    if "email" not in names:
        raise ImportFileError(
            "line 1 must be a header naming the columns, with at least 'email' "
            f"(found: {', '.join(repr(n) for n in names)})"
        )
    return {name: index for index, name in reversed(list(enumerate(names))) if name}


def _check_row(
    line: int, record: list[str], columns: dict[str, int], known: frozenset[str] | None
) -> NewSubscriber | _Suppress | BadRow:
    def cell(name: str) -> str:
        index = columns.get(name)
        return _restore(record[index].strip()) if index is not None and index < len(record) else ""

    try:
        # Undecodable bytes arrive as lone surrogates (errors="surrogateescape").
        "".join(record).encode("utf-8")
    except UnicodeEncodeError:
        return BadRow(line, "not UTF-8 text; save the file as UTF-8 CSV")
    try:
        email = normalize_email(cell("email"))
        categories = parse_categories(cell("categories"))
        _, language = check_preferences(categories, cell("language").lower() or "both")
        preferences = read_edition_cells(cell)
    except (InvalidAddressError, InvalidPreferencesError) as error:
        return BadRow(line, str(error))
    try:
        created_at = _when(cell("created_at"))
        confirmed_at = _when(cell("confirmed_at"))
    except ValueError as error:
        return BadRow(line, f"not a date and time: {str(error)[:80]}")
    status = cell("status").lower()
    if status in SUPPRESSED_STATUSES:
        return _Suppress(email, status)
    if known is not None and not categories <= known:
        unknown = sorted(categories - known)
        noun = "categories" if len(unknown) > 1 else "category"
        return BadRow(
            line, f"unknown {noun} {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )
    if status not in ("", "active"):
        return BadRow(
            line,
            f"status {status!r}: only active rows are imported (pending ones never confirmed)",
        )
    return NewSubscriber(email, categories, language, created_at, confirmed_at, preferences)


def _when(cell: str) -> dt.datetime | None:
    """An exported ISO 8601 time (UTC when it names no zone), or None for an empty cell."""
    if not cell:
        return None
    value = dt.datetime.fromisoformat(cell)
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def import_csv(
    store: SubscriberStore,
    lines: Iterable[str],
    *,
    reason: str = "import",
    known: Collection[str] | None = None,
) -> ImportReport:
    """Import a subscriber CSV: good rows become active subscribers, bad ones are reported.

    Rows naming a category code not in ``known`` are bad rows (``None``: any well-formed
    code). Addresses already listed are left as they are; suppressed ones are never re-activated.
    Rows are stored in batches, each in one transaction, so re-running after an
    interruption is harmless. Raises :class:`ImportFileError` when the file has no header.
    """
    report = ImportReport()
    batch: list[NewSubscriber] = []

    def flush() -> None:
        result = store.add_many(batch, reason=reason)
        report.imported += result.added
        report.already_present += result.already_present
        report.suppressed += result.suppressed
        batch.clear()

    for outcome in read_rows(lines, known):
        if isinstance(outcome, BadRow):
            report.bad.append(outcome)
        elif isinstance(outcome, _Suppress):
            store.suppress(outcome.email, outcome.status, reason)
            report.suppressed += 1
        else:
            batch.append(outcome)
            if len(batch) >= BATCH_SIZE:
                flush()
    if batch:
        flush()
    return report


class Lookup(Protocol):
    """Which normalised addresses the database lists and suppresses (for a dry run)."""
    def listed(self, emails: Collection[str]) -> set[str]: ...
    def suppressed(self, emails: Collection[str]) -> set[str]: ...


# A good row's fate: added, present, suppressed already, or (status unsubscribed...) suppressing.
Outcome = Literal["add", "present", "suppressed", "suppress"]


@dataclass(frozen=True)
class PlannedRow:
    line: int
    email: str
    outcome: Outcome


@dataclass
class ImportPreview:
    """What :func:`import_csv` would do: its report, and the first good rows' fates."""

    report: ImportReport = field(default_factory=ImportReport)
    rows: list[PlannedRow] = field(default_factory=list)


def preview_csv(
    lookup: Lookup, lines: Iterable[str], *, known: Collection[str] | None = None,
    keep: int = 1000,
) -> ImportPreview:
    """A dry run of :func:`import_csv` (same rows, batches and order; nothing stored),
    keeping the first ``keep`` good rows. Raises :class:`ImportFileError` without a header."""
    report = (preview := ImportPreview()).report
    listed, blocked = set[str](), set[str]()  # added, suppressed by earlier rows of the file
    batch: list[tuple[int, str, int]] = []  # line, address, place in preview.rows

    def note(line: int, email: str, outcome: Outcome) -> None:
        if len(preview.rows) < keep:
            preview.rows.append(PlannedRow(line, email, outcome))

    def flush() -> None:
        fresh = {email for _, email, _ in batch} - listed - blocked
        stopped = lookup.suppressed(fresh)
        present = lookup.listed(fresh - stopped)
        seen: set[str] = set()
        for line, email, place in batch:  # as SubscriberStore.add_many counts them
            outcome: Outcome = (
                "present" if email in seen else "suppressed" if email in blocked or email in stopped
                else "present" if email in present or email in listed else "add")
            (listed if outcome == "add" else seen).add(email)  # a repeat is "present"
            report.imported += outcome == "add"
            report.already_present += outcome == "present"
            report.suppressed += outcome == "suppressed"
            if place < keep:
                preview.rows[place] = PlannedRow(line, email, outcome)
        batch.clear()

    for line, outcome in _numbered_rows(lines, known):
        if isinstance(outcome, BadRow):
            report.bad.append(outcome)
        elif isinstance(outcome, _Suppress):
            blocked.add(outcome.email)
            report.suppressed += 1
            note(line, outcome.email, "suppress")
        else:
            batch.append((line, outcome.email, len(preview.rows)))
            note(line, outcome.email, "add")  # its place; the outcome comes with its batch
            if len(batch) >= BATCH_SIZE:
                flush()
    flush()
    return preview


def export_csv(subscribers: Iterable[Subscriber], out: TextIO,
               preferences: Mapping[int, ReaderPreferences] | None = None) -> int:
    """Write subscribers as CSV (header first) to ``out``; how many rows were written.

    ``preferences``: each reader's chosen frequency, paper limit and follows (missing: the
    default). Every cell that a spreadsheet would take for a formula is prefixed with a
    single quote. The file imports back unchanged (see :func:`import_csv`).
    """
    chosen = preferences or {}
    writer = csv.writer(out)
    writer.writerow(EXPORT_COLUMNS)
    count = 0
    for sub in subscribers:
        row = (
            sub.email,
            " ".join(sorted(sub.categories)),
            sub.language,
            sub.status,
            sub.source,
            sub.created_at.isoformat(),
            sub.confirmed_at.isoformat() if sub.confirmed_at else "",
            *edition_cells(chosen.get(sub.id)),
        )
        writer.writerow([neutralise(value) for value in row])
        count += 1
    return count


def export_subscribers(
    store: SubscriberStore, out: TextIO, status: SubscriberStatus | None = None
) -> int:
    """Export the store's subscribers (with ``status`` when given) to ``out``."""
    return export_csv(store.list(status), out, PreferenceStore(store.db).chosen())
