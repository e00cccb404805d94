"""Reading an issue file: YAML -> ``Issue``, with every problem reported at once.

Each problem names the file, the line, the field path and what is wrong. The cross-field
checks (category in the legend, a paper listed twice, the date against the file name)
run even when the model refused the file, so one run shows everything to fix.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import TypeAdapter, ValidationError

from newsletter.errors import IssueProblem, IssueValidationError
from newsletter.issues.files import SUFFIX, file_name
from newsletter.issues.friendly import friendly
from newsletter.issues.limits import (
    MAX_FILE_BYTES,
    alias_free,
    limit_problem,
    shown,
    size_problem,
    tree_within_limits,
)
from newsletter.issues.model import ArxivUrl, CategoryCode, Issue, arxiv_id
from newsletter.issues.problems import file_problem
from newsletter.issues.yaml_source import (
    RAW_CONTROL,
    LineIndex,
    Loc,
    compose,
    dotted,
    load_unique,
    raw_controls,
)
from newsletter.issues.yaml_syntax import syntax_problem

# A paper as the cross-field checks see it: where it is, its category code and its
# canonical link, each None when unknown (the model refused it or it is missing).
_PaperRef = tuple[Loc, str | None, str | None]
_SECTIONS = ("featured", "notable")


def _cross_checks(
    legend: Collection[str] | None, papers: Iterable[_PaperRef]
) -> list[tuple[Loc, str]]:
    """Checks across fields: (location, message) for every problem.

    ``legend`` None means the category legend is itself broken, so a paper's code is
    not compared with it: that mismatch would only repeat the legend's own problem.
    """
    problems: list[tuple[Loc, str]] = []
    seen: dict[str, Loc] = {}
    for loc, category, url in papers:
        if legend is not None and category is not None and category not in legend:
            known = ", ".join(sorted(legend))
            problems.append(
                ((*loc, "category"),
                 f"{category!r} is not in the category legend ({known}); "
                 "add it under categories or fix the code")
            )
        if url is None:
            continue
        key = arxiv_id(url)
        if key in seen:
            problems.append(
                ((*loc, "url"),
                 f"{url} is already in this issue at {dotted(seen[key])}; remove one of them")
            )
        else:
            seen[key] = loc
    return problems


def _model_refs(issue: Issue) -> list[_PaperRef]:
    return [
        ((section, index), paper.category, paper.url)
        for section in _SECTIONS
        for index, paper in enumerate(getattr(issue, section))
    ]


_AS_DATE: TypeAdapter[dt.date] = TypeAdapter(dt.date)
_AS_CATEGORY: TypeAdapter[str] = TypeAdapter(CategoryCode)
_AS_URL: TypeAdapter[str] = TypeAdapter(ArxivUrl)


def _valid(adapter: TypeAdapter[Any], data: Any, loc: Loc, failed: set[Loc]) -> Any:
    """The value at ``loc`` as the model reads it, or None when it is missing or refused."""
    if loc in failed:
        return None
    for part in loc:
        if isinstance(part, int):
            if not isinstance(data, list) or part >= len(data):
                return None
        elif not isinstance(data, dict) or part not in data:
            return None
        data = data[part]
    try:
        return adapter.validate_python(data)
    except ValidationError:
        return None


def _raw_refs(data: dict[str, Any], failed: set[Loc]) -> list[_PaperRef]:
    """Best-effort papers from data the model refused; refused fields become None."""
    refs: list[_PaperRef] = []
    for section in _SECTIONS:
        papers = data.get(section)
        if not isinstance(papers, list):
            continue
        for index in range(len(papers)):
            loc = (section, index)
            refs.append((
                loc,
                _valid(_AS_CATEGORY, data, (*loc, "category"), failed),
                _valid(_AS_URL, data, (*loc, "url"), failed),
            ))
    return refs


def _raw_legend(data: dict[str, Any], failed: set[Loc]) -> set[str] | None:
    """The legend's codes, or None when any part of the legend was refused."""
    legend = data.get("categories")
    if not isinstance(legend, dict) or any(loc[:1] == ("categories",) for loc in failed):
        return None
    return {_AS_CATEGORY.validate_python(code) for code in legend}


def _clean_loc(loc: Loc) -> Loc:
    """Drop pydantic's validator and dict-key markers, leaving the path in the file (a key
    YAML read as a number is named as written)."""
    kept: list[str | int] = []
    for part in loc:
        if part == "[key]" and kept:
            kept[-1] = str(kept[-1])
        elif not (isinstance(part, str) and part.startswith("function")):
            kept.append(part)
    return tuple(kept)


def _date_problem(date: dt.date, path: str, index: LineIndex) -> list[IssueProblem]:
    expected = file_name(date)
    if not path.endswith(SUFFIX) or Path(path).name == expected:
        return []
    return [IssueProblem(path, index.line(("date",)), "date",
                         f"{date.isoformat()} does not match the file name; "
                         f"name the file {expected} or fix the date")]


def _refused(
    err: ValidationError, data: dict[str, Any], path: str, index: LineIndex
) -> list[IssueProblem]:
    """The model's own problems, then the cross-field checks run best-effort on the raw data.

    A field the model refused is left out of the cross checks, so no mistake is
    reported twice (an invalid code is not also called unknown).
    """
    problems, failed = [], set()
    for e in err.errors():
        loc = _clean_loc(tuple(e["loc"]))
        failed.add(loc)
        problems.append(IssueProblem(path, index.line(loc), dotted(loc), friendly(e, loc)))
    problems += [
        IssueProblem(path, index.line(loc), dotted(loc), msg)
        for loc, msg in _cross_checks(_raw_legend(data, failed), _raw_refs(data, failed))
    ]
    date = _valid(_AS_DATE, data, ("date",), failed)
    return problems + (_date_problem(date, path, index) if date is not None else [])


@dataclass(frozen=True)
class Document:
    """A valid issue with what it was read from: the YAML data and where each field is."""

    issue: Issue
    data: dict[str, Any]
    index: LineIndex


def parse_issue(text: str, path: str = "<string>") -> Issue:
    """Parse and validate issue YAML; raise :class:`IssueValidationError` with every problem."""
    issue = _clean_issue(text, path)
    return issue if issue is not None else parse_document(text, path).issue


def _clean_issue(text: str, path: str) -> Issue | None:
    """The issue of ``text`` when it has no problem at all, else None.

    The quick way for the files that are fine, which is nearly all of them: the same
    checks in the same order as :func:`parse_document` (the limits before anything is
    built), but without the node tree and line numbers that only a problem needs. Any
    doubt gives None, and :func:`parse_document` then finds and locates every problem.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if RAW_CONTROL.search(text) or size_problem(len(text.encode("utf-8")), path) is not None:
        return None
    # Without anchors and aliases the limits are checked on the node tree, which loading
    # builds anyway, instead of in a pass of their own over the text.
    quick = alias_free(text)
    if not quick and limit_problem(text, path) is not None:
        return None
    try:
        data = load_unique(text, tree_within_limits if quick else None)
        if not isinstance(data, dict):
            return None
        issue = Issue.model_validate(data)
    except (yaml.YAMLError, ValidationError, ValueError, TypeError, RecursionError):
        return None
    if _cross_checks(issue.categories, _model_refs(issue)):
        return None
    if path.endswith(SUFFIX) and Path(path).name != file_name(issue.date):
        return None
    return issue


def parse_document(text: str, path: str = "<string>") -> Document:
    """Parse and validate issue YAML; raise :class:`IssueValidationError` with every problem.

    Problems are sorted by line. A syntax error (at its line and column, with the usual
    fix) stops before validation, since nothing after it can be located reliably.
    Control characters typed into the file are reported with the field they fall in,
    and validation goes on with them read as spaces, unless that still does not parse:
    then they are all that is reported.
    """
    try:
        return _parse_document(text, path)
    except (ValueError, RecursionError) as err:
        # A backstop: the limits (``limits.py``) should leave nothing that the constructor,
        # the model or a message about a value refuses, but one bad file must never become
        # a traceback on a page or in a command that reads many of them.
        raise IssueValidationError(
            [IssueProblem(path, 1, "", f"cannot be read: {shown(str(err))}")]
        ) from None


def _parse_document(text: str, path: str) -> Document:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    controls = raw_controls(text)
    cleaned = RAW_CONTROL.sub(" ", text) if controls else text  # lines and columns kept
    too_much = limit_problem(cleaned, path)
    if too_much is not None:
        raise IssueValidationError([too_much])
    try:
        root, data = compose(cleaned)
    except yaml.YAMLError as err:
        if controls:
            raise IssueValidationError(
                [IssueProblem(path, line, "", msg) for line, _, msg in controls]
            ) from None
        raise IssueValidationError([syntax_problem(text, err, path)]) from err
    index = LineIndex(root)
    problems = [
        IssueProblem(path, line, dotted(index.field_at(line, column)), msg)
        for line, column, msg in controls
    ]
    problems += [
        IssueProblem(path, line, dotted(loc),
                     f"is given twice (first on line {first}); keep one of them")
        for loc, line, first in index.duplicates
    ]
    if not isinstance(data, dict):
        problems.append(
            IssueProblem(path, 1, "", "an issue file must be a YAML mapping (date:, title:, ...)")
        )
        raise IssueValidationError(sorted(problems, key=lambda p: p.line))
    try:
        issue = Issue.model_validate(data)
    except ValidationError as err:
        problems += _refused(err, data, path, index)
        raise IssueValidationError(sorted(problems, key=lambda p: p.line)) from None
    problems += [
        IssueProblem(path, index.line(loc), dotted(loc), msg)
        for loc, msg in _cross_checks(issue.categories, _model_refs(issue))
    ]
    problems += _date_problem(issue.date, path, index)
    if problems:
        raise IssueValidationError(sorted(problems, key=lambda p: p.line))
    return Document(issue, data, index)


def read_issue_text(path: str | Path) -> str:
    """An issue file's text; :class:`IssueValidationError` when too big, unreadable or not
    UTF-8 (the problem names the file and, for bad bytes, the line)."""
    name = str(path)
    try:
        with open(path, "rb") as file:
            raw = file.read(MAX_FILE_BYTES + 1)
            too_big = size_problem(os.fstat(file.fileno()).st_size, name)
    except FileNotFoundError as err:
        raise IssueValidationError([file_problem(
            name, "no such file; cannot read the file: check its name and its folder "
            "(issue files are YYYY-MM-DD.yaml)"
        )]) from err
    except IsADirectoryError as err:
        raise IssueValidationError(
            [file_problem(name, "is a folder; name an issue file (YYYY-MM-DD.yaml)")]
        ) from err
    except OSError as err:
        raise IssueValidationError(
            [file_problem(name, f"cannot read the file: {err.strerror}")]
        ) from err
    if too_big is not None:
        raise IssueValidationError([too_big])
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise IssueValidationError(
            [IssueProblem(name, line, "", "is not UTF-8 text; save the file as UTF-8")]
        ) from err


def load_issue(path: str | Path) -> Issue:
    """Read and validate one issue file; raise :class:`IssueValidationError` on any problem."""
    return parse_issue(read_issue_text(path), str(path))
