"""Pre-send checks of one issue file: what ``newsletter check`` reports and ``send`` enforces.

Errors stop a send; warnings are shown. Checked, in order:

- the file's validity, as ``newsletter validate`` checks it (``issues/checks.py``: YAML
  syntax with line, column and the usual fix, the issue model, ``TODO`` markers left,
  arXiv IDs that cannot exist): error;
- links: paper links written ``http://`` (warning); ``http://`` links in texts and in the
  rendered HTML: warning;
- a legend category with no paper: warning;
- what readers see (``reader_checks.py``): a subject read as shouting, Chinese where
  English readers would see it, no postal address: warning;
- a paper already in one of the 14 issue files before this one (same folder, by
  versionless arXiv ID): warning;
- every variant (each language, whole and per category with papers): HTML over Gmail's
  clipping point (abstracts will be cut: warning; cannot fit: error) or near it
  (warning), an empty plaintext part or one without a paper's link (error), an empty
  preheader (error).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from newsletter.editing.reader_checks import reader_findings
from newsletter.errors import IssueProblem, IssueValidationError, PreflightError, RenderError
from newsletter.issues.checks import TODO, check_text, walk
from newsletter.issues.files import file_name, issue_files
from newsletter.issues.loader import load_issue, read_issue_text
from newsletter.issues.model import Issue
from newsletter.issues.problems import where
from newsletter.issues.yaml_source import LineIndex, Loc, dotted
from newsletter.rendering.renderer import RenderedIssue, Renderer, select_papers
from newsletter.vocabulary import LANGUAGES, Variant

RECENT_ISSUES = 14
_HTTP_LINK = re.compile(r"\bhttp://[^\s\"'<>]+")
_HREF = re.compile(r"""href=["']([^"']*)["']""")
# MJML writes <mj-preview> as the first hidden div of the body.
_PREVIEW = re.compile(r'<div style="display:none;[^"]*">(.*?)</div>', re.DOTALL)

Level = Literal["error", "warning"]


@dataclass(frozen=True)
class Finding:
    """One problem: how bad, where (``FILE``, ``FILE:LINE``, ``FILE:LINE:COLUMN`` or a variant)
    and what."""

    level: Level
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.level}: {self.where}: {self.message}"


@dataclass(frozen=True)
class PreflightConfig:
    """What the checks compare against: where our links point and Gmail's clipping point.

    ``base_url_warning`` is what to say about links to ``base_url`` when it is not https
    (None when it is fine), as ``send`` judges it.
    """

    base_url: str
    size_limit_bytes: int
    size_warn_bytes: int
    base_url_warning: str | None = None
    postal_address: str | None = None


@dataclass(frozen=True)
class IssueSource:
    """An issue file as read once: its path (for messages and its neighbours) and its text.

    ``text`` is None when the file could not be read as UTF-8; ``problems`` then says why.
    """

    path: Path
    text: str | None
    problems: tuple[IssueProblem, ...] = ()

    @classmethod
    def read(cls, path: Path) -> IssueSource:
        """Read ``path`` (never raises: an unreadable file is a source with problems)."""
        try:
            return cls(path, read_issue_text(path))
        except IssueValidationError as err:
            return cls(path, None, tuple(err.problems))


@dataclass
class Report:
    """Every finding for one issue file, the HTML size of each variant, and what was made.

    ``issue`` is the validated issue (None when the file is invalid); ``rendered`` holds
    each checked variant as sending would use it (abstracts cut to fit), by variant key,
    so that a send renders nothing twice.
    """

    path: Path
    findings: list[Finding] = field(default_factory=list)
    sizes: dict[str, int] = field(default_factory=dict)
    issue: Issue | None = None
    rendered: dict[str, RenderedIssue] = field(default_factory=dict)

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


# -- content ----------------------------------------------------------------------------


def _content(issue: Issue, data: Any, index: LineIndex, path: Path) -> list[Finding]:
    found: list[Finding] = []

    def at(loc: Loc) -> str:
        return f"{path}:{index.line(loc)}"

    for loc, value in walk(data):
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


def _rendered(issue: Issue, renderer: Renderer, config: PreflightConfig, report: Report) -> None:
    limit, near = config.size_limit_bytes, config.size_warn_bytes
    insecure: set[str] = set()
    for variant in variants(issue):
        where = f"{report.path} ({variant.key})"
        try:
            # One render: the variant as readers get it, and the size it had uncut.
            fitted = renderer.render(issue, variant, limit)
        except RenderError as err:
            report.findings.append(Finding("error", where, str(err)))
            continue
        report.rendered[variant.key] = fitted
        full_bytes = fitted.uncut_html_bytes
        report.sizes[variant.key] = full_bytes
        if full_bytes > limit:
            report.findings.append(Finding(
                "warning", where, f"the HTML is {full_bytes:,} bytes, over Gmail's clipping "
                f"point ({limit:,}): abstracts will be cut with a 'read more' link",
            ))
        elif full_bytes > near:
            report.findings.append(Finding(
                "warning", where, f"the HTML is {full_bytes:,} bytes, close to Gmail's "
                f"clipping point ({limit:,}); consider fewer featured papers",
            ))
        featured, notable = select_papers(issue, variant)
        missing = [p.url for p in [*featured, *notable] if p.url not in fitted.text]
        if not fitted.text.strip():
            report.findings.append(Finding("error", where, "the plaintext part is empty"))
        elif missing:
            report.findings.append(Finding(
                "error", where, f"the plaintext part lacks {', '.join(missing)}"
            ))
        preview = _PREVIEW.search(fitted.html)
        if not fitted.preheader.strip() or preview is None or not html.unescape(
            preview.group(1)
        ).strip():
            report.findings.append(Finding(
                "error", where, "the preheader (the inbox preview text) is empty",
            ))
        insecure.update(h for h in _HREF.findall(fitted.html) if h.startswith("http://"))
    # Links to our own pages follow NEWSLETTER_BASE_URL, which is judged as `send` judges it
    # (plain http is fine on this machine); any other http link is named.
    own = config.base_url_warning if any(
        link.startswith(f"{config.base_url}/") for link in insecure
    ) else None
    if own:
        report.findings.append(Finding("warning", str(report.path), own))
    others = sorted(link for link in insecure if not link.startswith(f"{config.base_url}/"))
    if others:
        more = f" and {len(others) - 3} more" if len(others) > 3 else ""
        report.findings.append(Finding(
            "warning", str(report.path),
            f"links in the email that are not https: {', '.join(others[:3])}{more}",
        ))


def preflight(source: IssueSource, renderer: Renderer, config: PreflightConfig) -> Report:
    """Check one issue file as read; every problem found is in the report, none raised.

    The file's problems are errors (``issues.checks``, as ``validate`` finds them); an
    unreadable file or one the model refuses is checked no further. Each
    variant is rendered once; the report keeps the issue and the renderings.
    """
    path, text = source.path, source.text
    report = Report(path)
    if text is None:
        report.findings += [_problem_finding(p) for p in source.problems]
        return report
    checked = check_text(text, str(path))
    report.findings += [_problem_finding(p) for p in checked.problems]
    if checked.document is None:
        return report
    issue, index = checked.document.issue, checked.document.index
    report.issue = issue
    report.findings += _content(issue, checked.document.data, index, path)
    report.findings += _recent(issue, path, index)
    report.findings += [
        Finding("warning", where, message)
        for where, message in reader_findings(issue, index, path, renderer, config.postal_address)
    ]
    _rendered(issue, renderer, config, report)
    return report


def _problem_finding(p: IssueProblem) -> Finding:
    return Finding("error", where(p), f"{p.field}: {p.message}" if p.field else p.message)
