"""The HTML of a paper's page and of search, and the static site's search index.

Rendered like the archive (:class:`ArchivePages`' environment, no request), so
``newsletter serve`` and ``newsletter site`` give the same pages. Matches are marked in
Python on the shown text (``<mark>``), the same way on both databases.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urlencode

from markupsafe import Markup, escape

from newsletter.model.papers import MAX_QUERY_CHARS, PaperRecord, SearchPage, words_to_mark
from newsletter.rendering.citations import bibtex, json_ld, meta_tags
from newsletter.web.archive import Published
from newsletter.web.archive_pages import ArchivePages

SNIPPET = 240  # characters of an abstract shown in a search result
INDEX_MORE = 64  # characters of affiliations and further authors in the static index
SECTION_LABELS = {"featured": "精选 · Featured", "notable": "其他值得关注 · Notable"}


def marker(query: str) -> re.Pattern[str] | None:
    """A pattern finding the words and Chinese runs of ``query`` in shown text."""
    words = sorted({w for w in words_to_mark(query)}, key=len, reverse=True)
    if not words:
        return None
    return re.compile("|".join(re.escape(w) for w in words), re.IGNORECASE)


def highlight(text: str, pattern: re.Pattern[str] | None) -> Markup:
    """``text`` escaped, with each match of ``pattern`` in ``<mark>``."""
    if pattern is None:
        return escape(text)
    out: list[Markup | str] = []
    last = 0
    for match in pattern.finditer(text):
        out += [text[last : match.start()], Markup("<mark>{}</mark>").format(match.group())]
        last = match.end()
    out.append(text[last:])
    return Markup("").join(out)  # escapes every piece that is not markup


def snippet(text: str, pattern: re.Pattern[str] | None) -> str:
    """About :data:`SNIPPET` characters of ``text``, around its first match if any."""
    if len(text) <= SNIPPET:
        return text
    found = pattern.search(text) if pattern else None
    start = max(0, found.start() - SNIPPET // 3) if found else 0
    start = text.rfind(" ", 0, start) + 1 if start else 0
    piece = text[start : start + SNIPPET]
    return ("…" if start else "") + piece + "…"


@dataclass(frozen=True)
class SearchForm:
    """What the search page was asked: text, filters, page (from 1)."""

    query: str = ""
    category: str | None = None
    year: int | None = None
    page: int = 1


class PaperPages:
    """Paper pages and search pages in the archive's look."""

    def __init__(self, archive: ArchivePages) -> None:
        self.archive = archive
        self.urls = archive.urls
        self.env = archive.env

    def paper_page(self, published: Published, record: PaperRecord) -> str:
        page_url = self.urls.absolute(self.urls.paper_page(record.arxiv_id))
        issues = published.by_date
        featured_in = [
            (a, issues[a.date.isoformat()].title if a.date.isoformat() in issues else "")
            for a in record.appearances if a.date.isoformat() in issues
        ]
        has_zh = bool(record.title_zh or record.summary_zh)
        return self.env.get_template("web/paper.html.j2").render({
            "page_title": record.title, "page_lang": "zh-CN" if has_zh else "en",
            "paper": record, "page_url": page_url, "meta": meta_tags(record),
            "json_ld": json_ld(record, page_url), "bib": bibtex(record),
            "featured_in": featured_in, "before": [a.date for a in record.appearances[:-1]],
            "sections": SECTION_LABELS,
        })

    def search_page(self, form: SearchForm, found: SearchPage | None,
                    facets: tuple[Sequence[str], Sequence[int]], static: bool = False,
                    last_page: int | None = None, page_size: int = 20) -> str:
        """The search form and, unless ``static`` (the script fills it in), the results;
        no link past ``last_page``, a note instead when more results would follow. A page
        past the last result links back to the first."""
        pattern = marker(form.query)
        codes, years = facets
        more = None
        capped = bool(found and found.more and last_page is not None
                      and form.page >= last_page)
        if found is not None and found.more and not capped:
            more = self._query_url(form, form.page + 1)
        earlier = found is not None and form.page > 1
        results = [
            (record, snippet(record.abstract or record.summary_zh or "", pattern))
            for record in (found.papers if found else ())
        ]
        return self.env.get_template("web/search.html.j2").render({
            "page_title": "搜索论文 Search papers", "page_lang": "zh-CN",
            "form": form, "results": results, "searched": found is not None,
            "mark": lambda text: highlight(text, pattern), "more": more,
            "capped": form.page * page_size if capped else 0,
            "previous": self._query_url(form, form.page - 1) if earlier else None,
            "first": self._query_url(form, 1) if earlier else None,
            "page_size": page_size, "query_chars": MAX_QUERY_CHARS,
            "codes": codes, "years": years, "static": static,
        })

    def _query_url(self, form: SearchForm, page: int) -> str:
        params: dict[str, str] = {"q": form.query}
        if form.category:
            params["category"] = form.category
        if form.year:
            params["year"] = str(form.year)
        params["page"] = str(page)
        return f"{self.urls.search()}?{urlencode(params)}"


def search_index(records: Iterable[PaperRecord]) -> bytes:
    """The static site's search index: one short row per paper, newest first.

    ``{"dates": [...], "papers": [[id, category, title, title_zh, authors, date index,
    more], ...]}``: ``authors`` are the first three, ``more`` the affiliations and the
    other names (at most :data:`INDEX_MORE` characters), which the page's script searches
    too. Abstracts are left out, to keep 10,000 papers under 2 MB.
    """
    ordered = sorted(records, key=lambda r: (r.last_date, r.arxiv_id), reverse=True)
    dates = sorted({r.last_date.isoformat() for r in ordered}, reverse=True)
    where = {date: n for n, date in enumerate(dates)}
    rows = []
    for r in ordered:
        people = ", ".join(r.authors[:3])
        if len(r.authors) > 3 or r.authors_truncated:
            people += ", et al."
        more = " ".join((*r.affiliations, *r.authors[3:]))[:INDEX_MORE]
        rows.append([r.arxiv_id, r.category, r.title, r.title_zh or "", people,
                     where[r.last_date.isoformat()], more])
    return json.dumps({"dates": dates, "papers": rows}, ensure_ascii=False,
                      separators=(",", ":")).encode("utf-8")
