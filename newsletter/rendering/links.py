"""Where an email's paper links point: arXiv's abstract, PDF and HTML pages, and ours.

One place for each, so the templates never build a URL themselves. ``paper_page_url`` is
where "read more" after a shortened abstract goes: our own page with the whole Chinese
summary (arXiv has none of it): ``/papers/<ID>``, which ``serve`` and the static site
both have for every paper of a published issue.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from newsletter.issues.model import Issue, Paper
from newsletter.model.papers import paper_key
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


def paper_page_url(base_url: str, paper: Paper) -> str:
    """Our page for the whole of ``paper`` (both titles, the whole Chinese summary and
    abstract, citations): ``/papers/<ID>``, whatever version the issue names."""
    return f"{base_url.rstrip('/')}/papers/{paper_key(paper.arxiv_id) or paper.arxiv_id}"


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
    def for_issue(cls, base_url: str, issue: Issue, variant: Variant = Variant(),
                  section: str = "issues") -> Links:
        """The links of ``issue``; "view in browser" opens the reader's own variant (under
        ``/weekly/`` for a weekly edition, issue 21)."""
        base = base_url.rstrip("/")
        return cls(
            browser=f"{base}/{section}/{issue.date.isoformat()}{variant.browser_query()}",
            unsubscribe=f"{base}/unsubscribe/{placeholder(Purpose.UNSUBSCRIBE)}",
            preferences=f"{base}/preferences/{placeholder(Purpose.PREFERENCES)}",
            feedback_base=f"{base}/feedback/{placeholder(Purpose.PREFERENCES)}/"
                          f"{issue.date.isoformat()}",
        )
