"""``/issues/<date>``: an issue as readers see it in a browser, with no personal links."""

from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from newsletter.errors import IssueValidationError
from newsletter.issues.files import path_for
from newsletter.issues.loader import load_issue
from newsletter.rendering.renderer import Renderer, Variant
from newsletter.settings import Settings
from newsletter.tokens import Purpose, placeholder
from newsletter.web.pages import Pages

log = logging.getLogger(__name__)

# Archived issues are email HTML: inline styles, no scripts, nothing to submit.
ARCHIVE_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src https: data:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)


@lru_cache(maxsize=16)
def archive_html(path: Path, mtime_ns: int, base_url: str, templates_dir: Path | None) -> str:
    """The browser copy of an issue; cached per file version (the mtime is part of the key)."""
    html = Renderer(base_url, templates_dir).render(load_issue(path), Variant()).html
    # The archive copy belongs to nobody: per-recipient links become a sign-up link.
    base = base_url.rstrip("/")
    for purpose in (Purpose.UNSUBSCRIBE, Purpose.PREFERENCES):
        html = html.replace(f"{base}/{purpose.value}/{placeholder(purpose)}", f"{base}/subscribe")
        html = html.replace(placeholder(purpose), "")
    return html


class ArchiveRoutes:
    """Routes over the issue files in ``settings.issues_dir``."""

    def __init__(self, settings: Settings, pages: Pages) -> None:
        self.settings = settings
        self.pages = pages

    def _page(self, date: str) -> str | None:
        path = path_for(self.settings.issues_dir, date)
        if path is None:
            return None
        try:
            return archive_html(
                path, path.stat().st_mtime_ns, self.settings.base_url, self.settings.templates_dir
            )
        except (IssueValidationError, OSError) as err:
            log.warning("archive page for %s cannot be rendered: %s", date, err)
            return None

    async def issue(self, request: Request) -> Response:
        html = await run_in_threadpool(self._page, request.path_params["date"])
        if html is None:
            return self.pages.message(request, "not_found", 404)
        return HTMLResponse(html, headers={"Content-Security-Policy": ARCHIVE_CSP})
