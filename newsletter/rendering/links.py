"""Where an email's paper links point: arXiv's abstract, PDF and HTML pages, and ours.

One place for each, so the templates never build a URL themselves. ``paper_page_url`` is
where "read more" after a shortened abstract goes: our own page with the whole Chinese
summary (arXiv has none of it). Until every paper has a page of its own, that is the
issue's web page at the paper's anchor.
"""

from __future__ import annotations

import datetime as dt

from newsletter.issues.model import Paper
from newsletter.issues.papers import anchor as paper_anchor
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
