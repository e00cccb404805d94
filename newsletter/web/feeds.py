"""Atom feeds (RFC 4287): every public issue, and every paper of one category.

Built with ElementTree, which escapes every text and attribute. All links are absolute,
made from ``NEWSLETTER_BASE_URL`` (path included). An entry's ``updated`` is the start of
its issue's day in ``NEWSLETTER_TIMEZONE``, so a feed changes only when issues do.
"""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from html import escape
from zoneinfo import ZoneInfo

from newsletter.issues.model import FeaturedPaper, Issue, Paper
from newsletter.web.archive import Published
from newsletter.web.archive_pages import SiteUrls

ATOM = "http://www.w3.org/2005/Atom"
ATOM_TYPE = "application/atom+xml"
ET.register_namespace("", ATOM)


def _el(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, f"{{{ATOM}}}{tag}", attrs)
    if text is not None:
        element.text = text
    return element


def _stamp(date: dt.date, zone: ZoneInfo) -> str:
    return dt.datetime.combine(date, dt.time(0), zone).isoformat()


def _feed(
    urls: SiteUrls, path: str, title: str, author: str, updated: str, alternate: str
) -> ET.Element:
    feed = ET.Element(f"{{{ATOM}}}feed")
    _el(feed, "id", urls.absolute(path))
    _el(feed, "title", title)
    _el(feed, "updated", updated)
    _el(_el(feed, "author"), "name", author)
    _el(feed, "link", rel="self", type=ATOM_TYPE, href=urls.absolute(path))
    _el(feed, "link", rel="alternate", type="text/html", href=urls.absolute(alternate))
    return feed


def _bytes(feed: ET.Element) -> bytes:
    return bytes(ET.tostring(feed, encoding="utf-8", xml_declaration=True))


def _paper_html(paper: Paper) -> str:
    # Plain f-strings over escape(): this runs for every paper of every feed.
    parts = [f"<p><b>{escape(paper.category)}</b> {escape(paper.title)}</p>"]
    if paper.title_zh:
        parts.append(f"<p>{escape(paper.title_zh)}</p>")
    parts.append(f"<p><i>{escape(paper.author_line())}</i></p>")
    if isinstance(paper, FeaturedPaper):
        if paper.summary_zh:
            parts.append(f"<p>{escape(paper.summary_zh)}</p>")
        parts.append(f"<p>{escape(paper.abstract)}</p>")
    parts.append(f'<p><a href="{escape(paper.url)}">arXiv:{escape(paper.arxiv_id)}</a></p>')
    return "".join(parts)


def issues_feed(published: Published, urls: SiteUrls, name: str, zone: ZoneInfo) -> bytes:
    """``/feed.xml``: one entry per public issue, newest first, listing its papers."""
    issues = published.issues
    updated = _stamp(issues[0].date, zone) if issues else _stamp(dt.date(2000, 1, 1), zone)
    feed = _feed(urls, urls.feed(), name, name, updated, urls.archive())
    for issue in issues:
        link = urls.absolute(urls.issue(issue.date.isoformat()))
        entry = _el(feed, "entry")
        _el(entry, "id", link)
        _el(entry, "title", issue.title)
        _el(entry, "updated", _stamp(issue.date, zone))
        _el(entry, "link", rel="alternate", type="text/html", href=link)
        items = "".join(
            f'<li><a href="{escape(urls.absolute(urls.paper(issue, paper)))}">'
            f"{escape(paper.category)} {escape(paper.title)}</a></li>"
            for paper in issue.papers
        )
        if issue.title_en:
            _el(entry, "summary", issue.title_en)
        _el(entry, "content", f"{escape(issue.summary or '')}<ul>{items}</ul>", type="html")
    return _bytes(feed)


def category_feed(
    published: Published, code: str, urls: SiteUrls, name: str, zone: ZoneInfo
) -> bytes | None:
    """``/feeds/<CODE>.xml``: every paper in category ``code`` across the public issues.

    None when no public issue's legend names ``code``.
    """
    label = published.categories.get(code)
    if label is None:
        return None
    papers: Iterable[tuple[Issue, Paper]] = published.papers_in(code)
    first = next(iter(published.issues))
    feed = _feed(urls, urls.category_feed(code), f"{name} · {code} {label.label('both')}",
                 name, _stamp(first.date, zone), urls.archive())
    for issue, paper in papers:
        link = urls.absolute(urls.paper(issue, paper))
        entry = _el(feed, "entry")
        _el(entry, "id", link)
        _el(entry, "title", paper.title)
        _el(entry, "updated", _stamp(issue.date, zone))
        _el(entry, "link", rel="alternate", type="text/html", href=link)
        _el(entry, "link", rel="related", type="text/html", href=paper.url)
        for author in paper.authors:
            _el(_el(entry, "author"), "name", author)
        _el(entry, "content", _paper_html(paper), type="html")
    return _bytes(feed)
