"""The archive's routes: ``/archive/``, ``/issues/<date>``, ``/feed.xml``, ``/feeds/<CODE>.xml``.

Each handler asks :class:`Archive` for the public issues (files and database, in a
thread) and answers a cached page or feed; anything not public is the 404 page.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from collections.abc import Callable

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from newsletter.model.site import SiteConfig
from newsletter.store.campaigns import CampaignStore
from newsletter.web.archive import Archive, Published
from newsletter.web.archive_pages import ArchivePages, SiteUrls, variant_from_query
from newsletter.web.feeds import ATOM_TYPE, category_feed, issues_feed
from newsletter.web.pages import Pages

# Archive pages are our own HTML and one stylesheet: no scripts, frames or forms.
ARCHIVE_CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
_HEADERS = {"Content-Security-Policy": ARCHIVE_CSP}
_PAGE_NUMBER = re.compile(r"[2-9]|[1-9][0-9]{1,8}")


class ArchiveRoutes:
    """The public archive of ``site.issues_dir``, published by the campaigns of ``store``."""

    def __init__(
        self, site: SiteConfig, store: CampaignStore, pages: Pages,
        clock: Callable[[], dt.datetime],
    ) -> None:
        self.site = site
        self.pages = pages
        self.archive = Archive(site, store.sent_issue_dates, clock)
        self.name = site.name
        self.urls = SiteUrls(site.base_url)
        self.html = ArchivePages(site.templates_dir, self.urls, self.name)
        # Feeds are cached like pages: per state of the archive.
        self._feeds: dict[tuple[object, ...], bytes | None] = {}
        self._lock = threading.Lock()

    def not_found(self, request: Request) -> Response:
        return self.pages.message(request, "not_found", 404)

    async def published(self) -> Published:
        return await run_in_threadpool(self.archive.published)

    async def archive_page(self, request: Request) -> Response:
        given = request.path_params.get("number")
        # Page 1 lives at /archive/ only; a page number is a few plain digits ("0012",
        # "+3" and a 5,000-digit number, which int() refuses, are pages nobody links to).
        if given is not None and not _PAGE_NUMBER.fullmatch(given):
            return self.not_found(request)
        number = int(given) if given is not None else 1
        published = await self.published()
        html = await run_in_threadpool(self.html.archive_page, published, number)
        if html is None:
            return self.not_found(request)
        return HTMLResponse(html, headers=_HEADERS)

    async def issue(self, request: Request) -> Response:
        published = await self.published()
        issue = published.by_date.get(request.path_params["date"])
        if issue is None:
            return self.not_found(request)
        variant = variant_from_query(request.query_params)
        html = await run_in_threadpool(self.html.issue_page, published, issue, variant)
        return HTMLResponse(html, headers=_HEADERS)

    async def feed(self, request: Request) -> Response:
        published = await self.published()
        body = await run_in_threadpool(self._issues_feed, published)
        return Response(body, media_type=ATOM_TYPE)

    async def category_feed(self, request: Request) -> Response:
        published = await self.published()
        body = await run_in_threadpool(self._category_feed, published, request.path_params["code"])
        if body is None:
            return self.not_found(request)
        return Response(body, media_type=ATOM_TYPE)

    def _issues_feed(self, published: Published) -> bytes:
        body = self._cached_feed(("all", published.key),
                                 lambda: issues_feed(published, self.urls, self.name,
                                                     self.site.zone))
        assert body is not None
        return body

    def _category_feed(self, published: Published, code: str) -> bytes | None:
        return self._cached_feed(("category", published.key, code),
                                 lambda: category_feed(published, code, self.urls, self.name,
                                                       self.site.zone))

    def _cached_feed(
        self, key: tuple[object, ...], build: Callable[[], bytes | None]
    ) -> bytes | None:
        with self._lock:
            if key in self._feeds:
                return self._feeds[key]
        body = build()
        with self._lock:
            if len(self._feeds) >= 64:
                self._feeds.pop(next(iter(self._feeds)))  # the oldest entry
            self._feeds[key] = body
        return body
