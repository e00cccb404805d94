"""The public archive of the weekly editions (issue 21): ``/weekly/``, each edition at
``/weekly/DATE`` and the feed ``/weekly/feed.xml``, as the daily archive does it for
``issues/weekly/``. An edition is public once its campaign (``W20261206``) sent it."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable

from newsletter.editing.weekly import WEEKLY_DIR
from newsletter.model.editions import weekly_day
from newsletter.model.site import SiteConfig
from newsletter.store.campaigns import CampaignStore
from newsletter.vocabulary import Variant
from newsletter.web.archive import Archive
from newsletter.web.archive_pages import ArchivePages, SiteUrls
from newsletter.web.archive_routes import ArchiveRoutes
from newsletter.web.pages import Pages


class WeeklyUrls(SiteUrls):
    """The weekly archive's addresses; papers, category feeds and the stylesheet are the
    daily archive's."""

    def archive(self, page: int = 1) -> str:
        return f"{self.root}/weekly/" if page == 1 else f"{self.root}/weekly/page/{page}/"

    def issue(self, date: str, variant: Variant = Variant()) -> str:
        if not self.static:
            return f"{self.root}/weekly/{date}{variant.browser_query()}"
        lang = "" if variant.language == "both" else f"{variant.language}/"
        return f"{self.root}/weekly/{date}/{lang}"

    def feed(self) -> str:
        return f"{self.root}/weekly/feed.xml"


def weekly_sent(store: CampaignStore) -> Callable[[], frozenset[str]]:
    """The dates of the weekly editions whose campaigns sent them."""
    def sent() -> frozenset[str]:
        days = (weekly_day(key) for key in store.sent_issue_dates())
        return frozenset(day.isoformat() for day in days if day is not None)

    return sent


class WeeklyArchiveRoutes(ArchiveRoutes):
    """:class:`ArchiveRoutes` over ``issues/weekly/`` with the weekly addresses."""

    def __init__(self, site: SiteConfig, store: CampaignStore, pages: Pages,
                 clock: Callable[[], dt.datetime]) -> None:
        weekly = dataclasses.replace(site, issues_dir=site.issues_dir / WEEKLY_DIR,
                                     name=f"{site.name} · Week's best")
        super().__init__(weekly, store, pages, clock)
        self.archive = Archive(weekly, weekly_sent(store), clock)
        self.urls = WeeklyUrls(site.base_url)
        self.html = ArchivePages(site.templates_dir, self.urls, self.name)
