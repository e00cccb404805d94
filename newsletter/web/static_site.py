"""``newsletter site --out DIR``: the public archive and feeds as static files.

The same pages and feeds as ``newsletter serve``, laid out for any static web host:

    index.html, archive/index.html, archive/page/<N>/index.html
    issues/<date>/index.html        (both languages; /issues/<date> redirects here)
    issues/<date>/zh/index.html, issues/<date>/en/index.html
    feed.xml, feeds/<CODE>.xml, static/site.css
    papers/<ID>/index.html, papers/<ID>.bib, papers/<ID>.ris, search/  (static_papers.py)
    weekly/, weekly/<date>/, weekly/feed.xml  (the weekly editions, static_weekly.py)

A static host cannot read ``?lang=...&categories=...``, so the "view in browser" link of
an email shows the whole issue there, and the language switch links the folders above.
Files from an earlier build that are no longer part of the site are removed, and only
those: the folder's manifest lists what each build wrote, so other files next to the site
(``.git``, ``CNAME``) stay. A folder that holds files but no manifest is refused rather
than cleaned, and nothing is written or removed through a symbolic link
(``site_files.py``).
"""

from __future__ import annotations

import datetime as dt
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from newsletter.errors import SiteError
from newsletter.model.site import SiteConfig
from newsletter.vocabulary import Language, Variant
from newsletter.web.archive import Archive
from newsletter.web.archive_pages import ArchivePages, SiteUrls
from newsletter.web.feeds import category_feed, issues_feed
from newsletter.web.site_files import MANIFEST, SiteFolder
from newsletter.web.static_papers import write_papers
from newsletter.web.static_weekly import write_weekly

_LANGUAGE_FOLDERS: tuple[tuple[Language, str], ...] = (("both", ""), ("zh", "zh/"), ("en", "en/"))
# Written into every build; a non-empty folder without it is not ours to clean.
MARKER = MANIFEST


@dataclass(frozen=True)
class SiteReport:
    """What ``build_site`` wrote."""

    out: Path
    issues: int
    files: int
    bytes: int
    removed: int


class _Writer:
    """Writes files under ``out`` in a few threads, while the caller renders the next page.

    File creation is slow on some file systems (~0.5 ms a file); the threads spend that
    time in system calls, which release the GIL.
    """

    def __init__(self, out: Path) -> None:
        self.folder = SiteFolder(out)
        self.written: set[str] = set()
        self.bytes = 0
        self._pool = ThreadPoolExecutor(4, thread_name_prefix="site-writer")
        self._pending: list[Future[None]] = []

    def __call__(self, relative: str, content: str | bytes) -> None:
        data = content.encode("utf-8") if isinstance(content, str) else content
        self.written.add(relative)
        self.bytes += len(data)
        self._pending.append(self._pool.submit(self.folder.write, relative, data))

    def finish(self) -> None:
        """Wait for every file; raise the first :class:`SiteError` if one failed."""
        try:
            for future in self._pending:
                future.result()
        finally:
            self._pool.shutdown(wait=True)


def _check_out_dir(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise SiteError(f"{out} is a file; give a folder for the site")
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).is_file():
        raise SiteError(
            f"{out} is not empty and was not written by `newsletter site`; "
            "choose an empty or new folder"
        )


def _remove_stale(folder: SiteFolder, before: list[str], written: set[str]) -> int:
    """Remove the files the last build wrote that this one did not; how many went."""
    return sum(folder.remove(name) for name in sorted(set(before) - written - {MANIFEST}))


def build_site(
    site: SiteConfig, out: Path, sent_dates: frozenset[str], now: dt.datetime,
    weekly_dates: frozenset[str] = frozenset(),
) -> SiteReport:
    """Write the archive of ``site.issues_dir`` as published at ``now`` into ``out``.

    ``sent_dates`` are the dates whose campaigns sent them (``sent_issue_dates``);
    ``weekly_dates`` those of the weekly editions sent (``weekly_sent``).
    Raises :class:`SiteError` when ``out`` is a file or a folder holding other things, or
    a file cannot be written.
    """
    _check_out_dir(out)
    templates = site.templates_dir
    published = Archive(site, lambda: sent_dates, lambda: now).published()
    urls = SiteUrls(site.base_url, static=True)
    name = site.name
    pages = ArchivePages(templates, urls, name)
    zone = site.zone
    out.mkdir(parents=True, exist_ok=True)
    write = _Writer(out)
    before = write.folder.manifest()
    # The manifest of the last build stays until this one is complete, so a build that
    # fails half-way still leaves a folder the next build may clean.
    write.folder.write_manifest(before)
    try:
        for number in range(1, published.pages + 1):
            html = pages.archive_page(published, number)
            assert html is not None
            write("archive/index.html" if number == 1
                  else f"archive/page/{number}/index.html", html)
            if number == 1:
                write("index.html", html)
        for issue in published.issues:
            date = issue.date.isoformat()
            for language, folder in _LANGUAGE_FOLDERS:
                html = pages.issue_page(published, issue, Variant(language))
                write(f"issues/{date}/{folder}index.html", html)
        write_papers(write, published, pages)  # issue 20: papers/ and search/
        write_weekly(write, site, weekly_dates, now)  # issue 21: weekly/
        write("feed.xml", issues_feed(published, urls, name, zone))
        for code in published.categories:
            feed = category_feed(published, code, urls, name, zone)
            assert feed is not None
            write(f"feeds/{code}.xml", feed)
        static = templates / "web" / "static"
        for source in sorted(p for p in static.rglob("*") if p.is_file()):
            write(f"static/{source.relative_to(static).as_posix()}", source.read_bytes())
    finally:
        write.finish()
    write.folder.write_manifest(write.written)
    removed = _remove_stale(write.folder, before, write.written)
    return SiteReport(out, len(published.issues), len(write.written) + 1, write.bytes, removed)

