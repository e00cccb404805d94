"""CSV records with the line each starts on, for subscriber imports (``csv_io``).

A quoted cell may span lines, but an unmatched double quote must not swallow the rest of
the file: such a line is reported as a :class:`BadRow` and the lines after it read anew.
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


def records(lines: Iterable[str]) -> Iterator[tuple[int, list[str]] | BadRow]:
    """CSV records with the line each starts on; a quote left open is a bad line.

    A quoted cell may span lines, but no more than :data:`MAX_RECORD_LINES`: an unmatched
    double quote would otherwise swallow every row after it into one cell. Its line is
    reported (with the span it would have taken) and the lines after it are read anew.
    """
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
        while text.count('"') % 2 and len(buffer) < MAX_RECORD_LINES:
            try:
                buffer.append(take())
            except StopIteration:
                break
            text += buffer[-1][1]
        if text.count('"') % 2:
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
        yield start, record


def _open_quote_span(
    start: int, buffer: list[tuple[int, str]], source: Iterator[str],
    again: deque[tuple[int, str]],
) -> str:
    """``lines 5-5511 (5,507 lines)``: how far an open quote at ``start`` would reach (to
    the next quote that closes it, or the end of the file). Lines read ahead are kept."""
    quotes = sum(line.count('"') for _, line in buffer)
    end = buffer[-1][0]
    ahead: list[tuple[int, str]] = list(again)
    for number, line in ahead:
        quotes += line.count('"')
        end = number
        if quotes % 2 == 0:
            break
    else:
        for line in source:
            end += 1
            ahead.append((end, line))
            quotes += line.count('"')
            if quotes % 2 == 0:
                break
    again.clear()
    again.extend(ahead)
    return f"lines {start}-{end} ({end - start + 1:,} lines)"
