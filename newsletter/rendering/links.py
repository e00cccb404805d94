"""Where an email's paper links point: arXiv's abstract, PDF and HTML pages, and ours.

One place for each, so the templates never build a URL themselves. ``paper_page_url`` is
where "read more" after a shortened abstract goes: our own page with the whole Chinese
summary (arXiv has none of it). Until every paper has a page of its own, that is the
issue's web page at the paper's anchor.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from newsletter.issues.model import Issue, Paper
from newsletter.issues.papers import anchor as paper_anchor
from newsletter.tokens import Purpose, placeholder
from newsletter.vocabulary import Variant

ARXIV = "https://arxiv.org"


def arxiv_pdf_url(paper: Paper) -> str:
    """The paper's PDF on arXiv (its newest version)."""
    return f"{ARXIV}/pdf/{paper.arxiv_id}"


def arxiv_html_url(paper: Paper) -> str:
    """The paper's HTML version on arXiv (its newest version)."""
    return f"{ARXIV}/html/{paper.arxiv_id}"


def issue_page_url(base_url: str, date: dt.date, variant: Variant = Variant()) -> str:
    """The issue's web page, showing the reader's own variant."""
    return f"{base_url.rstrip('/')}/issues/{date.isoformat()}{variant.browser_query()}"


def paper_page_url(base_url: str, date: dt.date, paper: Paper, variant: Variant = Variant()) -> str:
    """Our page for the whole of ``paper``: for now the issue's web page at its anchor."""
    return f"{issue_page_url(base_url, date, variant)}#{paper_anchor(paper)}"


@dataclass(frozen=True)
class Links:
    """Where the links in a rendered issue point; per-recipient ones hold placeholders."""

    browser: str
    unsubscribe: str
    preferences: str
    # Issue 21: ``{base}/feedback/{preferences token}/{date}``, before ``/{kind}/{paper}``.
    feedback_base: str = ""

    def feedback(self, arxiv_id: str, kind: str) -> str:
        """The reader's "More like this" (``more``) or "Not for me" (``less``) link."""
        return f"{self.feedback_base}/{kind}/{arxiv_id}"

    @classmethod
    def for_issue(cls, base_url: str, issue: Issue, variant: Variant = Variant()) -> Links:
        """The links of ``issue``; "view in browser" opens the reader's own variant."""
        base = base_url.rstrip("/")
        return cls(
            browser=issue_page_url(base, issue.date, variant),
            unsubscribe=f"{base}/unsubscribe/{placeholder(Purpose.UNSUBSCRIBE)}",
            preferences=f"{base}/preferences/{placeholder(Purpose.PREFERENCES)}",
            feedback_base=f"{base}/feedback/{placeholder(Purpose.PREFERENCES)}/"
                          f"{issue.date.isoformat()}",
        )
