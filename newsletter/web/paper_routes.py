"""Paper pages and search: ``/papers/<ID>`` (``.bib``, ``.ris``) and ``/search?q=``.

Every version and spelling of an identifier redirects to the one page of its paper
(``/papers/2209.01947v2`` -> ``/papers/2209.01947``); a paper that is in no published
issue is not found. Search answers any text with results or "nothing found": the query
never reaches the database as syntax (see ``store/paper_search.py``).
"""

from __future__ import annotations

import logging
import threading

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from newsletter.errors import DatabaseError, NewsletterError
from newsletter.model.papers import MAX_QUERY_CHARS, paper_key
from newsletter.rendering.citations import bibtex, ris
from newsletter.store.papers import PaperStore
from newsletter.vocabulary import CATEGORY_CODE
from newsletter.web.archive_routes import ARCHIVE_CSP, ArchiveRoutes
from newsletter.web.paper_index import PaperIndex
from newsletter.web.paper_pages import PaperPages, SearchForm

log = logging.getLogger(__name__)

PAGE_SIZE = 20  # search results per page
MAX_PAGE = 50  # pages of results one can walk through
# How often the running app compares the paper index with the published issues anyway.
RECHECK_SECONDS = 60.0
# The search page has a form (GET, to itself); otherwise it is the archive's policy.
SEARCH_CSP = ARCHIVE_CSP.replace("form-action 'none'", "form-action 'self'")
CITATION_TYPES = {
    "bib": "application/x-bibtex; charset=utf-8",
    "ris": "application/x-research-info-systems; charset=utf-8",
}


def search_form(params: dict[str, str]) -> SearchForm:
    """The search asked for; filters and page numbers that make no sense are ignored."""
    category = params.get("category", "")
    year = params.get("year", "")
    page = params.get("page", "")
    return SearchForm(
        query=params.get("q", "")[:MAX_QUERY_CHARS],
        category=category if CATEGORY_CODE.fullmatch(category) else None,
        year=int(year) if year.isascii() and year.isdigit() and 1990 <= int(year) <= 2200
        else None,
        page=min(int(page), MAX_PAGE) if page.isascii() and page.isdigit() and len(page) < 4
        and int(page) >= 1 else 1,
    )


class PaperRoutes:
    """Pages of the papers that ``archive`` publishes, from the index in ``store``."""

    def __init__(self, archive: ArchiveRoutes, store: PaperStore) -> None:
        self.archive = archive
        self.store = store
        self.index = PaperIndex(store, archive.archive)
        self.html = PaperPages(archive.html)
        self.urls = archive.urls
        self._warming: threading.Thread | None = None
        self._stopping = threading.Event()

    def start(self) -> None:
        """Bring the index up to the published issues in the background, so that the first
        reader after a start does not wait for a whole archive to be indexed; then compare
        it with them again every :data:`RECHECK_SECONDS`, so that a rebuild killed midway
        (by ``papers reindex --full`` in another process, say: an empty index, PostgreSQL
        search indexes missing) is put right without waiting for an issue to change."""
        self._stopping.clear()
        self._warming = threading.Thread(target=self._keep, name="paper-index", daemon=True)
        self._warming.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        if self._warming is not None:
            self._warming.join(timeout)

    def _keep(self) -> None:
        recheck = False
        while True:
            try:
                self.index.current(recheck=recheck)
            except NewsletterError as err:  # a request tries again and answers 503
                log.warning("paper index not brought up to date: %s", err)
            recheck = True
            if self._stopping.wait(RECHECK_SECONDS):
                return

    def unavailable(self, request: Request) -> Response:
        """503 with Retry-After: the database could not be used just now."""
        return self.archive.pages.message(request, "unavailable", 503, {"Retry-After": "30"})

    async def paper(self, request: Request) -> Response:
        try:
            return await self._paper(request)
        except DatabaseError as err:
            log.warning("paper page not shown: %s", err)
            return self.unavailable(request)

    async def search(self, request: Request) -> Response:
        try:
            return await self._search(request)
        except DatabaseError as err:
            log.warning("search not answered: %s", err)
            return self.unavailable(request)

    async def _paper(self, request: Request) -> Response:
        path = str(request.path_params["rest"]).rstrip("/")
        stem, _, suffix = path.rpartition(".")
        if suffix not in CITATION_TYPES:
            stem, suffix = path, ""
        key = paper_key(stem)
        if key is None:
            return self.archive.not_found(request)
        if key != stem or (not suffix and request.url.path.endswith("/")):
            target = (self.urls.paper_file(key, suffix) if suffix
                      else self.urls.paper_page(key))
            return RedirectResponse(target, status_code=301)
        return await run_in_threadpool(self._paper_response, request, key, suffix)

    def _paper_response(self, request: Request, key: str, suffix: str) -> Response:
        # The index check, the query and the page in one worker thread: each hop between
        # the event loop and a thread is a wait for the scheduler on a busy machine.
        published = self.index.current(wait=False)
        record = self.store.get(key)
        if record is None:
            return self.archive.not_found(request)
        if suffix:
            body = bibtex(record) if suffix == "bib" else ris(record)
            filename = key.replace("/", "-") + "." + suffix
            return Response(body, media_type=CITATION_TYPES[suffix], headers={
                "Content-Disposition": f'attachment; filename="{filename}"'})
        html = self.html.paper_page(published, record)
        return HTMLResponse(html, headers={"Content-Security-Policy": ARCHIVE_CSP})

    async def _search(self, request: Request) -> Response:
        form = search_form(dict(request.query_params))
        return await run_in_threadpool(self._search_response, form)

    def _search_response(self, form: SearchForm) -> Response:
        """The search page, or a redirect to the paper an arXiv ID or link names (one
        worker thread, as for a paper page)."""
        self.index.current(wait=False)
        key = paper_key(form.query)
        if key is not None and self.store.get(key) is not None:
            return RedirectResponse(self.urls.paper_page(key), status_code=303)
        searched = bool(form.query.strip() or form.category or form.year)
        found = self.store.search(form.query, form.category, form.year, PAGE_SIZE,
                                  (form.page - 1) * PAGE_SIZE) if searched else None
        html = self.html.search_page(form, found, self.index.facets(), last_page=MAX_PAGE,
                                     page_size=PAGE_SIZE)
        return HTMLResponse(html, headers={"Content-Security-Policy": SEARCH_CSP})
