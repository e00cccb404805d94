"""``newsletter site --out DIR``: the public archive and feeds as static files.

The same pages and feeds as ``newsletter serve``, laid out for any static web host:

    index.html, archive/index.html, archive/page/<N>/index.html
    issues/<date>/index.html        (both languages; /issues/<date> redirects here)
    issues/<date>/zh/index.html, issues/<date>/en/index.html
    feed.xml, feeds/<CODE>.xml, static/site.css

A static host cannot read ``?lang=...&categories=...``, so the "view in browser" link of
an email shows the whole issue there, and the language switch links the folders above.
Files from an earlier build that are no longer part of the site are removed; a folder
that holds anything else is refused rather than cleaned.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from newsletter.errors import NewsletterError
from newsletter.rendering.renderer import DEFAULT_TEMPLATES
from newsletter.settings import Settings
from newsletter.vocabulary import Language, Variant
from newsletter.web.archive import Archive
from newsletter.web.archive_pages import ArchivePages, SiteUrls, site_name
from newsletter.web.feeds import category_feed, issues_feed

_LANGUAGE_FOLDERS: tuple[tuple[Language, str], ...] = (("both", ""), ("zh", "zh/"), ("en", "en/"))
# Written into every build; a non-empty folder without it is not ours to clean.
MARKER = ".newsletter-site"


class SiteError(NewsletterError):
    """The site cannot be written where asked."""


@dataclass(frozen=True)
class SiteReport:
    """What ``build_site`` wrote."""

    out: Path
    issues: int
    files: int
    bytes: int
    removed: int


def _writer(out: Path, written: set[Path]) -> Callable[[str, str | bytes], int]:
    folders: set[Path] = set()  # made already: one mkdir per folder, not per file

    def write(relative: str, content: str | bytes) -> int:
        path = out / relative
        if path.parent not in folders:
            path.parent.mkdir(parents=True, exist_ok=True)
            folders.add(path.parent)
        data = content.encode("utf-8") if isinstance(content, str) else content
        path.write_bytes(data)
        written.add(path)
        return len(data)

    return write


def _check_out_dir(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise SiteError(f"{out} is a file; give a folder for the site")
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).is_file():
        raise SiteError(
            f"{out} is not empty and was not written by `newsletter site`; "
            "choose an empty or new folder"
        )


def _remove_stale(out: Path, written: set[Path]) -> int:
    removed = 0
    for root, _dirs, files in os.walk(out, topdown=False):
        folder = Path(root)
        for name in files:
            path = folder / name
            if path not in written:
                path.unlink()
                removed += 1
        if folder != out and not any(folder.iterdir()):
            folder.rmdir()
    return removed


def build_site(
    settings: Settings, out: Path, sent_dates: frozenset[str], now: dt.datetime
) -> SiteReport:
    """Write the archive of ``settings.issues_dir`` as published at ``now`` into ``out``.

    ``sent_dates`` are the dates whose campaigns sent them (``sent_issue_dates``).
    Raises :class:`SiteError` when ``out`` is a file or a folder holding other things.
    """
    _check_out_dir(out)
    templates = settings.templates_dir or DEFAULT_TEMPLATES
    published = Archive(settings, lambda: sent_dates, lambda: now).published()
    urls = SiteUrls(settings.base_url, static=True)
    name = site_name(settings.from_address)
    pages = ArchivePages(templates, urls, name)
    zone = settings.zone()
    written: set[Path] = set()
    write = _writer(out, written)
    size = write(MARKER, "Written by `newsletter site`; the next build replaces this folder.\n")
    for number in range(1, published.pages + 1):
        html = pages.archive_page(published, number)
        assert html is not None
        size += write("archive/index.html" if number == 1
                      else f"archive/page/{number}/index.html", html)
        if number == 1:
            size += write("index.html", html)
    for issue in published.issues:
        date = issue.date.isoformat()
        for language, folder in _LANGUAGE_FOLDERS:
            html = pages.issue_page(published, issue, Variant(language))
            size += write(f"issues/{date}/{folder}index.html", html)
    size += write("feed.xml", issues_feed(published, urls, name, zone))
    for code in published.categories:
        feed = category_feed(published, code, urls, name, zone)
        assert feed is not None
        size += write(f"feeds/{code}.xml", feed)
    static = templates / "web" / "static"
    for source in sorted(p for p in static.rglob("*") if p.is_file()):
        size += write(f"static/{source.relative_to(static).as_posix()}", source.read_bytes())
    removed = _remove_stale(out, written)
    return SiteReport(out, len(published.issues), len(written), size, removed)

