"""CSV records of a subscriber file, each with the lines it spans; stray quotes lose no rows.

As in every CSV reader, a double quote opens a quoted cell only at the start of a cell
(``"a, b",LG``); a quote anywhere else (``b"x@example.org``) is a character of its cell.
A quoted cell may hold line breaks, up to :data:`MAX_RECORD_LINES` lines; a quote that
opens a cell and is never closed within them makes its own line a bad row, and the lines
after it are read anew as rows, so one stray quote cannot swallow the rest of the file.
"""

from __future__ import annotations

import csv
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

MAX_RECORD_LINES = 10  # a quoted cell may hold line breaks, but not more than this many


@dataclass(frozen=True)
class BadRow:
    """A row that was not imported: its line number in the file and why."""

    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


def inside_quotes(line: str, inside: bool) -> bool:
    """Whether a record is inside a quoted cell after ``line``, given whether it was before.

    ``line`` starts a record or continues one (``inside`` True). Only a quote at a cell's
    start opens a quoted cell; inside one, ``""`` is a quote and ``"`` closes it.
    """
    if '"' not in line:
        return inside  # the common line: nothing to scan
    at_start = not inside
    index, end = 0, len(line)
    while index < end:
        char = line[index]
        if inside:
            if char == '"':
                if line.startswith('"', index + 1):
                    index += 1  # an escaped quote
                else:
                    inside = False
        elif char == '"' and at_start:
            inside = True
        at_start = not inside and char == ","
        index += 1
    return inside


def records(lines: Iterable[str]) -> Iterator[tuple[int, list[str], int] | BadRow]:
    """``(first line, cells, last line)`` for each CSV record; a quote left open is a bad row."""
    source = iter(lines)
    again: deque[tuple[int, str]] = deque()
    count = 0

    def take() -> tuple[int, str]:
        nonlocal count
        if again:
            return again.popleft()
        line = next(source)
        count += 1
        return count, line

    while True:
        try:
            buffer = [take()]
        except StopIteration:
            return
        start = buffer[0][0]
        text = buffer[0][1]
        inside = inside_quotes(text, False)
        while inside and len(buffer) < MAX_RECORD_LINES:
            try:
                buffer.append(take())
            except StopIteration:
                break
            text += buffer[-1][1]
            inside = inside_quotes(buffer[-1][1], inside)
        if inside:
            span = _open_quote_span(start, buffer, source, again)
            yield BadRow(start, f'an unmatched double quote (") would run from here over '
                         f"{span}; this line was skipped and the lines after it read as rows")
            again.extendleft(reversed(buffer[1:]))
            continue
        try:
            record = next(csv.reader([text]), [])
        except csv.Error as error:
            yield BadRow(start, f"unreadable CSV: {error}")
            continue
        yield start, record, buffer[-1][0]


def _open_quote_span(
    start: int, buffer: list[tuple[int, str]], source: Iterator[str],
    again: deque[tuple[int, str]],
) -> str:
    """``lines 5-5511 (5,507 lines)``: how far an open quote at ``start`` would reach (to
    the quote that closes it, or the end of the file). Lines read ahead are kept."""
    inside = True
    end = buffer[-1][0]
    ahead: list[tuple[int, str]] = list(again)
    for number, line in ahead:
        inside = inside_quotes(line, inside)
        end = number
        if not inside:
            break
    else:
        for line in source:
            end += 1
            ahead.append((end, line))
            inside = inside_quotes(line, inside)
            if not inside:
                break
    again.clear()
    again.extend(ahead)
    return f"lines {start}-{end} ({end - start + 1:,} lines)"
