"""The pieces of a reader's "For you" block (issue 21), rendered once per variant.

``templates/email/for_you.{html,txt}.j2`` hold the wording and markup; message building
(``sending/personal.py``) joins the pieces of the papers a reader's follows matched, with
the reader's own words escaped in the "matches" line.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import jinja2
from markupsafe import escape

from newsletter.errors import RenderError
from newsletter.issues.model import Issue, Paper
from newsletter.rendering.renderer import Renderer, select_papers
from newsletter.vocabulary import Language, Variant

_NAMES = "NLFORYOUNAMES"


@dataclass(frozen=True)
class ForYouParts:
    """One variant's pieces: the block's start and end, each paper's entry (by arXiv id, in
    the variant's order) and the "matches" line around the reader's words; (html, text)."""

    start: tuple[str, str]
    end: tuple[str, str]
    papers: dict[str, tuple[str, str]]
    matches: tuple[tuple[str, str], tuple[str, str]]

    def block(self, chosen: Sequence[tuple[str, Sequence[str]]]) -> tuple[str, str]:
        """The (html, text) block for papers ``chosen`` as (arXiv id, what matched); the
        names are escaped in the HTML. Empty strings when nothing was chosen."""
        if not chosen:
            return "", ""
        (html_before, html_after), (text_before, text_after) = self.matches
        html, text = [self.start[0]], [self.start[1]]
        for arxiv_id, names in chosen:
            paper_html, paper_text = self.papers[arxiv_id]
            joined = "; ".join(names)
            html += [paper_html, html_before, str(escape(joined)), html_after]
            text += [paper_text, text_before, joined, text_after]
        html.append(self.end[0])
        text.append(self.end[1])
        return "".join(html), "".join(text)


def reader_ui(issue: Issue, variant: Variant) -> tuple[Language, bool, bool]:
    """The interface language, whether Chinese titles show, and whether they come first,
    as the issue templates decide them (``Renderer._context``)."""
    show_zh = variant.language in ("zh", "both")
    has_zh = show_zh and issue.has_chinese
    ui: Language = variant.language if has_zh else "en"
    return ui, show_zh, has_zh and variant.language == "zh"


def render_for_you(renderer: Renderer, issue: Issue, variant: Variant) -> ForYouParts:
    """The pieces of ``variant``'s "For you" blocks; raises :class:`RenderError`."""
    ui, show_zh, chinese_first = reader_ui(issue, variant)
    featured, notable = select_papers(issue, variant)
    papers: list[Paper] = [*featured, *notable]
    try:
        html: Any = renderer.env.get_template("email/for_you.html.j2").module
        text: Any = renderer.env.get_template("email/for_you.txt.j2").module
        entries = {
            p.arxiv_id: (str(html.paper(p, show_zh, chinese_first)),
                         str(text.paper(p, show_zh, chinese_first)))
            for p in papers
        }
        html_matches = str(html.matches(ui, _NAMES)).split(_NAMES)
        text_matches = str(text.matches(ui, _NAMES)).split(_NAMES)
        return ForYouParts(
            start=(str(html.open(ui)), str(text.open(ui))),
            end=(str(html.close()), str(text.close())),
            papers=entries,
            matches=((html_matches[0], html_matches[1]), (text_matches[0], text_matches[1])),
        )
    except (jinja2.TemplateError, IndexError) as err:
        raise RenderError(f"template error in email/for_you: {err}") from err
