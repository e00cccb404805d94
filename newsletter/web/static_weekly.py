"""The weekly editions (issue 21) in ``newsletter site --out DIR``, laid out as the daily
archive is: ``weekly/index.html``, ``weekly/page/<N>/index.html``,
``weekly/<date>/index.html`` (and ``zh/``, ``en/``) and ``weekly/feed.xml``."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable

from newsletter.editing.weekly import WEEKLY_DIR
from newsletter.model.site import SiteConfig
from newsletter.vocabulary import Language, Variant
from newsletter.web.archive import Archive
from newsletter.web.archive_pages import ArchivePages
from newsletter.web.feeds import issues_feed
from newsletter.web.weekly_archive import WeeklyUrls

_LANGUAGE_FOLDERS: tuple[tuple[Language, str], ...] = (("both", ""), ("zh", "zh/"), ("en", "en/"))


def write_weekly(write: Callable[[str, str | bytes], None], site: SiteConfig,
                 sent_dates: frozenset[str], now: dt.datetime) -> int:
    """Write the published weekly editions through ``write``; how many there are.
    Nothing is written when no edition is published (no empty archive page)."""
    weekly = dataclasses.replace(site, issues_dir=site.issues_dir / WEEKLY_DIR,
                                 name=f"{site.name} · Week's best")
    if not weekly.issues_dir.is_dir():
        return 0
    published = Archive(weekly, lambda: sent_dates, lambda: now).published()
    if not published.issues:
        return 0
    urls = WeeklyUrls(site.base_url, static=True)
    pages = ArchivePages(site.templates_dir, urls, weekly.name)
    for number in range(1, published.pages + 1):
        html = pages.archive_page(published, number)
        assert html is not None
        write("weekly/index.html" if number == 1 else f"weekly/page/{number}/index.html", html)
    for issue in published.issues:
        date = issue.date.isoformat()
        for language, folder in _LANGUAGE_FOLDERS:
            write(f"weekly/{date}/{folder}index.html",
                  pages.issue_page(published, issue, Variant(language)))
    write("weekly/feed.xml", issues_feed(published, urls, weekly.name, site.zone))
    return len(published.issues)
