"""An issue's papers as paper-index records, and the index of many issues in memory."""

from __future__ import annotations

from collections.abc import Iterable

from newsletter.issues.model import FeaturedPaper, Issue, Paper
from newsletter.model.papers import Appearance, PaperRecord, merge, paper_key


def anchor(paper: Paper) -> str:
    """The paper's stable ``id`` in the issue page: ``arxiv-2209.01947``.

    Made from the arXiv identifier without its version, so links into an issue keep
    working when the file is edited or the paper moves from "featured" to "notable".
    Old-style identifiers (``solv-int/9901001``) get ``-`` for ``/``.
    """
    return anchor_of(paper.arxiv_id)


def anchor_of(arxiv_id: str) -> str:
    """:func:`anchor` of the paper whose identifier (without version) is ``arxiv_id``."""
    return "arxiv-" + arxiv_id.replace("/", "-")


def issue_papers(issue: Issue) -> list[PaperRecord]:
    """Each paper of ``issue`` once (the first place it has), with that one appearance."""
    found: dict[str, PaperRecord] = {}
    for section, listed in (("featured", issue.featured), ("notable", issue.notable)):
        for position, paper in enumerate(listed):
            given = paper.arxiv_id
            key = paper_key(given) or given
            if key in found:
                continue
            featured = paper if isinstance(paper, FeaturedPaper) else None
            found[key] = PaperRecord(
                arxiv_id=key, category=paper.category, title=paper.title,
                title_zh=paper.title_zh, authors=tuple(paper.authors),
                authors_truncated=paper.authors_truncated,
                affiliations=tuple(paper.affiliations),
                abstract=featured.abstract if featured else None,
                summary_zh=featured.summary_zh if featured else None,
                appearances=(Appearance(issue.date, section, position, anchor_of(given)),),
            )
    return list(found.values())


def paper_records(issues: Iterable[Issue]) -> dict[str, PaperRecord]:
    """Every paper of ``issues``, merged across them, by identifier (sorted)."""
    found: dict[str, list[PaperRecord]] = {}
    for issue in issues:
        for record in issue_papers(issue):
            found.setdefault(record.arxiv_id, []).append(record)
    return {key: merge(found[key]) for key in sorted(found)}
