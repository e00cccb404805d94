"""Pre-send checks of one issue file: what ``newsletter check`` reports and ``send`` enforces.

Errors stop a send; warnings are shown. Checked, in order:

- the file: YAML syntax (line, column and the usual fix) and the issue model;
- ``TODO`` markers left in any text (a draft from ``newsletter new`` has them): error;
- links: paper links written ``http://`` (warning), arXiv IDs that cannot exist (month
  outside 01-12, a 4-digit number after 2014-12 or a 5-digit one before 2015-01, a month
  before 2007-04 or after the issue's): error; ``http://`` links in texts and in the
  rendered HTML: warning;
- a legend category with no paper: warning;
- a paper already in one of the 14 issue files before this one (same folder, by
  versionless arXiv ID): warning;
- every variant (each language, whole and per category with papers): HTML over Gmail's
  clipping point (abstracts will be cut: warning; cannot fit: error) or near it
  (warning), an empty plaintext part or one without a paper's link (error), an empty
  preheader (error).
"""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from newsletter.errors import IssueProblem, IssueValidationError, PreflightError, RenderError
from newsletter.issues.files import file_name, issue_files
from newsletter.issues.loader import load_issue
from newsletter.issues.model import Issue
from newsletter.issues.yaml_source import LineIndex, Loc, compose, dotted
from newsletter.rendering.renderer import Renderer, select_papers
from newsletter.settings import Settings
from newsletter.vocabulary import LANGUAGES, Variant

RECENT_ISSUES = 14
TODO = re.compile(r"\bTODO\b")
_NEW_ID = re.compile(r"^(\d{2})(\d{2})\.(\d{4,5})$")
_HTTP_LINK = re.compile(r"\bhttp://[^\s\"'<>]+")
_HREF = re.compile(r"""href=["']([^"']*)["']""")
# MJML writes <mj-preview> as the first hidden div of the body.
_PREVIEW = re.compile(r'<div style="display:none;[^"]*">(.*?)</div>', re.DOTALL)
_TITLE_FIELDS = ("title", "title_zh", "title_en")

Level = Literal["error", "warning"]


@dataclass(frozen=True)
class Finding:
    """One problem: how bad, where (``FILE:LINE``, ``FILE:LINE:COLUMN`` or a variant) and what."""

    level: Level
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.level}: {self.where}: {self.message}"


@dataclass
class Report:
    """Every finding for one issue file, and the HTML size of each variant."""

    path: Path
    findings: list[Finding] = field(default_factory=list)
    sizes: dict[str, int] = field(default_factory=dict)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.level == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.level == "warning"]

    def raise_for_errors(self) -> None:
        """:class:`PreflightError` listing every error, when there is one."""
        if self.errors:
            lines = "\n".join(str(f) for f in self.errors)
            raise PreflightError(
                f"{lines}\n{self.path}: {len(self.errors)} preflight error(s); nothing was "
                "sent. Fix them (`newsletter check` lists them) and run it again."
            )


# -- the file ---------------------------------------------------------------------------


def _unclosed_quote(lines: list[str], at: int) -> int | None:
    """The 1-based line, at or up to 5 lines above ``at``, whose value opens a quote it never
    closes (YAML then reads on into the next lines and fails somewhere below)."""
    for number in range(at, max(at - 5, 0) - 1, -1):
        if number >= len(lines):
            continue
        _, sep, value = lines[number].partition(": ")
        value = value.strip()
        if sep and value[:1] in ("'", '"'):
            quote = value[0]
            body = value[1:].replace(quote * 2, "") if quote == "'" else value[1:]
            if quote not in body:
                return number + 1
    return None


def _yaml_fix(err: yaml.MarkedYAMLError, lines: list[str]) -> str:
    """The usual fix for a YAML syntax error, from what the parser says and the line."""
    problem = err.problem or ""
    mark = err.problem_mark
    line = lines[mark.line] if mark is not None and mark.line < len(lines) else ""
    key = line.strip().lstrip("- ").split(":", 1)[0]
    unclosed = _unclosed_quote(lines, mark.line if mark is not None else 0)
    if unclosed is not None:
        return f"a quote opened on line {unclosed} is not closed: close it"
    if "mapping values are not allowed" in problem:
        what = "the title" if key in _TITLE_FIELDS else "the value"
        return f"a value containing ': ' must be quoted: put {what} in quotes ('...')"
    if "'\\t'" in problem:
        return "indent with spaces, not tabs"
    if "cannot start any token" in problem or "alphabetic or numeric" in problem or (
        "undefined alias" in problem
    ):
        return "a value starting with @, `, * or & must be quoted: put it in quotes ('...')"
    if "expected ',' or ']'" in problem or "expected ',' or '}'" in problem:
        return "a value starting with [ or { must be quoted: put it in quotes ('...')"
    if "could not find expected ':'" in problem:
        return (
            "a key without ':', or a value continued on the next line: join the lines or "
            "write it as a block ('key: >-' and the text indented below)"
        )
    return "fix the syntax"


def _syntax(text: str, path: Path) -> Finding | None:
    try:
        yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark
        line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        return Finding(
            "error", f"{path}:{line}:{column}",
            f"not valid YAML: {err.problem}; {_yaml_fix(err, text.splitlines())}",
        )
    except yaml.YAMLError as err:
        return Finding("error", f"{path}:1", f"not valid YAML: {err}; fix the syntax")
    return None


def _walk(data: Any, loc: Loc = ()) -> Iterator[tuple[Loc, str]]:
    """Every string in the raw data with its location."""
    if isinstance(data, dict):
        for key, value in data.items():
            yield from _walk(value, (*loc, str(key)))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from _walk(value, (*loc, index))
    elif isinstance(data, str):
        yield loc, data


# -- content ----------------------------------------------------------------------------


def todo_problems(data: Any, index: LineIndex, path: str) -> list[IssueProblem]:
    """A problem for each text still holding a ``TODO`` marker (drafts from ``new``)."""
    return [
        IssueProblem(path, index.line(loc), dotted(loc), "a TODO is left; fill it in")
        for loc, value in _walk(data)
        if TODO.search(value)
    ]


def file_todos(path: Path) -> list[IssueProblem]:
    """:func:`todo_problems` for a file that :func:`load_issue` accepts."""
    root, data = compose(path.read_text("utf-8").replace("\r\n", "\n").replace("\r", "\n"))
    return todo_problems(data, LineIndex(root), str(path))


def _impossible_id(identifier: str, issue_date: dt.date) -> str | None:
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


def _content(issue: Issue, data: Any, index: LineIndex, path: Path) -> list[Finding]:
    found: list[Finding] = []

    def at(loc: Loc) -> str:
        return f"{path}:{index.line(loc)}"

    found += [Finding("error", f"{p.path}:{p.line}", f"{p.field}: {p.message}")
              for p in todo_problems(data, index, str(path))]
    for loc, value in _walk(data):
        if TODO.search(value):
            continue
        if loc[-1:] == ("url",) and value.strip().startswith("http://"):
            found.append(Finding(
                "warning", at(loc), f"{dotted(loc)}: written as http://; write https://"
            ))
        elif loc[-1:] != ("url",):
            for link in _HTTP_LINK.findall(value):
                found.append(Finding(
                    "warning", at(loc), f"{dotted(loc)}: the link {link} is not https; use https://"
                ))
    for section in ("featured", "notable"):
        for number, paper in enumerate(getattr(issue, section)):
            why = _impossible_id(paper.arxiv_id, issue.date)
            if why:
                loc = (section, number, "url")
                found.append(Finding(
                    "error", at(loc),
                    f"{dotted(loc)}: {paper.arxiv_id} cannot be an arXiv ID: {why}",
                ))
    used = {paper.category for paper in issue.papers}
    for code in issue.categories:
        if code not in used:
            found.append(Finding(
                "warning", at(("categories", code)),
                f"categories.{code}: no paper in this issue is in {code}; readers who chose "
                f"only {code} get nothing today",
            ))
    return found


def _recent(issue: Issue, path: Path, index: LineIndex) -> list[Finding]:
    """Papers already in one of the :data:`RECENT_ISSUES` issue files before this one."""
    own = file_name(issue.date)
    try:
        names = [p.name for p in issue_files(path.parent) if p.name < own][-RECENT_ISSUES:]
    except OSError:
        return []
    seen: dict[str, str] = {}
    found: list[Finding] = []
    for name in names:
        try:
            earlier = load_issue(path.parent / name)
        except IssueValidationError:
            found.append(Finding("warning", str(path.parent / name),
                                 "cannot be read, so it was not checked for repeated papers"))
            continue
        for section in ("featured", "notable"):
            for paper in getattr(earlier, section):
                seen[paper.arxiv_id] = f"{name} ({section})"
    for section in ("featured", "notable"):
        for number, paper in enumerate(getattr(issue, section)):
            if paper.arxiv_id in seen:
                loc = (section, number, "url")
                found.append(Finding(
                    "warning", f"{path}:{index.line(loc)}",
                    f"{dotted(loc)}: {paper.arxiv_id} was already in {seen[paper.arxiv_id]}",
                ))
    return found


# -- rendered variants ------------------------------------------------------------------


def variants(issue: Issue) -> list[Variant]:
    """Each language, whole and for each category that has a paper."""
    used = sorted({paper.category for paper in issue.papers})
    return [
        Variant(language, frozenset(chosen))
        for language in LANGUAGES
        for chosen in [(), *((code,) for code in used)]
    ]


def _rendered(issue: Issue, settings: Settings, report: Report) -> None:
    renderer = Renderer(settings.base_url, settings.templates_dir)
    limit, near = settings.size_limit_bytes, settings.size_warn_bytes
    insecure: set[str] = set()
    for variant in variants(issue):
        where = f"{report.path} ({variant.key})"
        try:
            full = renderer.render(issue, variant)
            if full.html_bytes > limit:
                renderer.render(issue, variant, limit)
        except RenderError as err:
            report.findings.append(Finding("error", where, str(err)))
            continue
        report.sizes[variant.key] = full.html_bytes
        if full.html_bytes > limit:
            report.findings.append(Finding(
                "warning", where, f"the HTML is {full.html_bytes:,} bytes, over Gmail's clipping "
                f"point ({limit:,}): abstracts will be cut with a 'read more' link",
            ))
        elif full.html_bytes > near:
            report.findings.append(Finding(
                "warning", where, f"the HTML is {full.html_bytes:,} bytes, close to Gmail's "
                f"clipping point ({limit:,}); consider fewer featured papers",
            ))
        featured, notable = select_papers(issue, variant)
        missing = [p.url for p in [*featured, *notable] if p.url not in full.text]
        if not full.text.strip():
            report.findings.append(Finding("error", where, "the plaintext part is empty"))
        elif missing:
            report.findings.append(Finding(
                "error", where, f"the plaintext part lacks {', '.join(missing)}"
            ))
        preview = _PREVIEW.search(full.html)
        if not full.preheader.strip() or preview is None or not html.unescape(
            preview.group(1)
        ).strip():
            report.findings.append(Finding(
                "error", where, "the preheader (the inbox preview text) is empty",
            ))
        insecure.update(h for h in _HREF.findall(full.html) if h.startswith("http://"))
    # Links to our own pages follow NEWSLETTER_BASE_URL, which is judged as `send` judges it
    # (plain http is fine on this machine); any other http link is named.
    own = settings.base_url_warning() if any(
        link.startswith(f"{settings.base_url}/") for link in insecure
    ) else None
    if own:
        report.findings.append(Finding("warning", str(report.path), own))
    others = sorted(link for link in insecure if not link.startswith(f"{settings.base_url}/"))
    if others:
        more = f" and {len(others) - 3} more" if len(others) > 3 else ""
        report.findings.append(Finding(
            "warning", str(report.path),
            f"links in the email that are not https: {', '.join(others[:3])}{more}",
        ))


def preflight(path: Path, settings: Settings) -> Report:
    """Check the issue file at ``path``; every problem found is in the report, none raised.

    An unreadable or invalid file is reported as errors and checked no further.
    """
    report = Report(path)
    try:
        text = path.read_bytes().decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")
    except (OSError, UnicodeDecodeError):
        text = None
    syntax = _syntax(text, path) if text is not None else None
    if syntax is not None:
        report.findings.append(syntax)
        return report
    try:
        issue = load_issue(path)
    except IssueValidationError as err:
        report.findings += [
            Finding("error", f"{p.path}:{p.line}", f"{p.field}: {p.message}" if p.field
                    else p.message)
            for p in err.problems
        ]
        return report
    assert text is not None  # load_issue read it
    root, data = compose(text)
    index = LineIndex(root)
    report.findings += _content(issue, data, index, path)
    report.findings += _recent(issue, path, index)
    _rendered(issue, settings, report)
    return report


def require(path: Path, settings: Settings) -> list[str]:
    """Run :func:`preflight`; raise :class:`PreflightError` on errors, else return warnings."""
    report = preflight(path, settings)
    report.raise_for_errors()
    return [str(w) for w in report.warnings]

