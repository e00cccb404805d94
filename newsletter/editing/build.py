"""What editors do before a send: validate issue files and build them to files on disk."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from email.utils import format_datetime
from pathlib import Path

from newsletter.editing.preflight import PreflightConfig
from newsletter.errors import IssueProblem
from newsletter.issues.categories import available_categories, check_categories
from newsletter.issues.checks import check_file
from newsletter.issues.loader import load_issue
from newsletter.issues.model import Issue
from newsletter.mail.message import MessageTemplate, Recipient, Sender
from newsletter.rendering.renderer import RenderedIssue, Renderer, select_papers
from newsletter.tokens import NO_SUBSCRIBER_ID, Purpose, make_token
from newsletter.vocabulary import Variant

SAMPLE_READER = "reader@example.com"


def validate(paths: list[Path]) -> list[IssueProblem]:
    """Check each file; return every problem in every file (empty when all are valid).

    The checks are ``issues.checks``, the ones ``check`` starts with: the file, its YAML,
    the issue model, a ``TODO`` left (drafts from ``newsletter new`` have them) and arXiv
    IDs that cannot exist.
    """
    return [problem for path in paths for problem in check_file(path).problems]


@dataclass(frozen=True)
class Workbench:
    """What the editor's tools work with (``wiring.workbench`` builds it).

    ``issues_dir`` holds the issues whose legends name the known categories;
    ``sample_secret`` signs the links of sample messages (the configured key, or a
    throwaway one: a sample's links name no subscriber).
    """

    renderer: Renderer
    sender: Sender
    issues_dir: Path
    checks: PreflightConfig
    sample_secret: str


@dataclass
class BuildResult:
    """The files ``build`` wrote and what it had to say about their size."""

    issue: Issue
    rendered: RenderedIssue
    files: dict[str, Path] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def sample_message(rendered: RenderedIssue, sender: Sender, secret: str, campaign: str) -> bytes:
    """A complete message to a placeholder reader, as a subscriber would receive it."""
    # Tokens for an id no subscriber can have: anyone holding a build output may follow
    # them. Signed with the configured key (or a throwaway one) so the links look real.
    reader = Recipient(
        address=SAMPLE_READER,
        delivery_id=f"sample.{campaign}",
        unsubscribe_token=make_token(secret, Purpose.UNSUBSCRIBE, NO_SUBSCRIBER_ID),
        preferences_token=make_token(secret, Purpose.PREFERENCES, NO_SUBSCRIBER_ID),
    )
    return MessageTemplate(rendered, sender, campaign).build(
        reader, format_datetime(dt.datetime.now(dt.UTC))
    )


def _empty_category_warnings(issue: Issue, variant: Variant) -> list[str]:
    # A variant for a category with no paper today is legitimate (readers choose it), but
    # an editor building it to look at it should know why the file is (nearly) empty.
    featured, notable = select_papers(issue, variant)
    present = {paper.category for paper in issue.papers}
    missing = sorted(variant.categories - present)
    if featured:
        kept = sorted(variant.categories & present)
        outcome = f"the file has only the {', '.join(kept)} papers"
    elif notable:
        outcome = "the file has no featured papers, only notable ones"
    else:
        outcome = "the file has no featured papers"
    if missing:
        return [f"no paper in this issue is in {', '.join(missing)}; {outcome}"]
    if variant.categories and not featured:
        codes = ", ".join(sorted(variant.categories))
        return [f"no featured paper in this issue is in {codes}; {outcome}"]
    return []


def build(
    path: Path, out_dir: Path, bench: Workbench, variant: Variant | None = None
) -> BuildResult:
    """Validate and render ``path``; write ``<date>.html``, ``.txt`` and ``.eml`` to ``out_dir``.

    Raises :class:`IssueValidationError` for a bad file, :class:`UnknownCategoryError` when
    the variant names a category that neither this issue nor any file in
    ``bench.issues_dir`` describes, and :class:`RenderError` when the issue cannot be made
    small enough for Gmail. A known category with no paper in this issue is a warning.
    """
    variant = variant or Variant()
    issue = load_issue(path)
    check_categories(
        variant.categories, {*issue.categories, *available_categories(bench.issues_dir)}
    )
    limit, near = bench.checks.size_limit_bytes, bench.checks.size_warn_bytes
    rendered = bench.renderer.render(issue, variant, limit)
    result = BuildResult(issue, rendered)
    result.warnings += _empty_category_warnings(issue, variant)
    if rendered.shortened_to is not None:
        result.warnings.append(
            f"the HTML was {rendered.uncut_html_bytes:,} bytes, over Gmail's clipping point "
            f"({limit:,}); abstracts were cut to "
            f"{rendered.shortened_to} characters with a 'read more' link "
            f"({rendered.html_bytes:,} bytes now)"
        )
    elif rendered.html_bytes > near:
        result.warnings.append(
            f"the HTML is {rendered.html_bytes:,} bytes, close to Gmail's clipping point "
            f"({limit:,}); consider fewer featured papers"
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = issue.date.isoformat()
    outputs = {
        "html": rendered.html.encode("utf-8"),
        "txt": rendered.text.encode("utf-8"),
        "eml": sample_message(rendered, bench.sender, bench.sample_secret, stem),
    }
    for ext, data in outputs.items():
        target = out_dir / f"{stem}.{ext}"
        target.write_bytes(data)
        result.files[ext] = target
    return result
