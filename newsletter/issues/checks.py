"""Every check of an issue file's validity, in one place: what ``newsletter validate``
reports, and what ``newsletter check`` (and so ``send``) starts with.

- the file itself: it exists, is readable UTF-8 text, within the size limits;
- YAML syntax, at its line and column, with the usual fix;
- the issue model and the checks across fields (``loader.py``);
- on a file the model accepts: a ``TODO`` left in any text (drafts from ``newsletter
  new`` have them), and arXiv IDs that cannot exist (month outside 01-12, a 4-digit
  number after 2014-12 or a 5-digit one before 2015-01, a month before 2007-04 or after
  the issue's).

The preflight (``editing/preflight.py``) adds what is not about the file's validity:
rendering, sizes, links, repeated papers.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from newsletter.errors import IssueProblem, IssueValidationError
from newsletter.issues.loader import Document, parse_document, read_issue_text
from newsletter.issues.model import Issue
from newsletter.issues.yaml_source import LineIndex, Loc, dotted

TODO = re.compile(r"\bTODO\b")
_NEW_ID = re.compile(r"^(\d{2})(\d{2})\.(\d{4,5})$")


def walk(data: Any, loc: Loc = ()) -> Iterator[tuple[Loc, str]]:
    """Every string in the raw data with its location."""
    if isinstance(data, dict):
        for key, value in data.items():
            yield from walk(value, (*loc, str(key)))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from walk(value, (*loc, index))
    elif isinstance(data, str):
        yield loc, data


def todo_problems(data: Any, index: LineIndex, path: str) -> list[IssueProblem]:
    """A problem for each text still holding a ``TODO`` marker (drafts from ``new``)."""
    return [
        IssueProblem(path, index.line(loc), dotted(loc), "a TODO is left; fill it in")
        for loc, value in walk(data)
        if TODO.search(value)
    ]


def impossible_id(identifier: str, issue_date: dt.date) -> str | None:
    """Why a new-style arXiv ID cannot exist, or None (old-style IDs are not judged)."""
    found = _NEW_ID.match(identifier)
    if found is None:
        return None
    year, month, number = 2000 + int(found.group(1)), int(found.group(2)), found.group(3)
    if not 1 <= month <= 12:
        return f"month {found.group(2)} does not exist (YYMM.NNNNN, month 01-12)"
    if (year, month) < (2007, 4):
        return "new-style IDs start in April 2007 (0704)"
    if (year, month) > (issue_date.year, issue_date.month):
        return f"it is from {year}-{month:02d}, after the issue's date"
    if len(number) == 4 and (year, month) >= (2015, 1):
        return "IDs from 2015 on have a 5-digit number"
    if len(number) == 5 and (year, month) < (2015, 1):
        return "IDs before 2015 have a 4-digit number"
    return None


def id_problems(issue: Issue, index: LineIndex, path: str) -> list[IssueProblem]:
    """A problem for each paper linking to an arXiv ID that cannot exist."""
    found = []
    for section in ("featured", "notable"):
        for number, paper in enumerate(getattr(issue, section)):
            why = impossible_id(paper.arxiv_id, issue.date)
            if why:
                loc = (section, number, "url")
                found.append(IssueProblem(path, index.line(loc), dotted(loc),
                                          f"{paper.arxiv_id} cannot be an arXiv ID: {why}"))
    return found


@dataclass(frozen=True)
class CheckedFile:
    """An issue file as checked: every problem found (sorted by line), and the document
    when the model accepted it (then the problems are TODOs and impossible IDs, if any)."""

    path: str
    problems: list[IssueProblem]
    document: Document | None = None


def check_text(text: str, path: str) -> CheckedFile:
    """Every problem with an issue file's text (never raises)."""
    try:
        document = parse_document(text, path)
    except IssueValidationError as err:
        return CheckedFile(path, list(err.problems))
    index = document.index
    problems = todo_problems(document.data, index, path)
    problems += id_problems(document.issue, index, path)
    return CheckedFile(path, sorted(problems, key=lambda p: p.line), document)


def check_file(path: str | Path) -> CheckedFile:
    """Every problem with an issue file, read from disk (never raises)."""
    try:
        text = read_issue_text(path)
    except IssueValidationError as err:
        return CheckedFile(str(path), list(err.problems))
    return check_text(text, str(path))
