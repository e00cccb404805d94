"""What the desk's pages work with, built once by the app factory."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse

from newsletter.desk.signin import SignIn
from newsletter.editing.build import Workbench
from newsletter.model.site import SiteConfig
from newsletter.sending.campaign import Campaigns
from newsletter.store.desk import DeskStore
from newsletter.store.subscribers import SubscriberStore
from newsletter.web.pages import Pages
from newsletter.web.paper_index import PaperIndex
from newsletter.web.security import PRIVATE


@dataclass
class Desk:
    """The parts every desk page may use."""

    sign_in: SignIn
    pages: Pages
    campaigns: Campaigns
    subscribers: SubscriberStore
    site: SiteConfig
    clock: Callable[[], dt.datetime]
    workbench: Workbench  # renderer, sender, issues folder, preflight limits
    arxiv_api_url: str = "https://export.arxiv.org/api/query"
    papers: PaperIndex | None = None  # the paper index: "featured before", re-read on save
    # issue 22: the integrations page (embed snippet, API tokens, webhooks).
    embed_origins: tuple[str, ...] = ()
    webhooks_allow_private: bool = False

    @property
    def store(self) -> DeskStore:
        return self.sign_in.store

    def render(self, request: Request, name: str, context: Mapping[str, Any],
               status: int = 200) -> HTMLResponse:
        """``templates/web/admin/<name>.html.j2`` with the editor, the CSRF token and the
        current section; never cached."""
        state = request.state
        full = {
            "editor": getattr(state, "editor", None),
            "csrf": getattr(state, "csrf", ""),
            "page_lang": "en",
            **context,
        }
        return self.pages.render(request, f"admin/{name}", full, status, headers=PRIVATE)

    def back(self, request: Request, path: str, **query: str) -> RedirectResponse:
        """303 to ``/admin{path}`` (every desk POST answers with a redirect)."""
        root = request.scope.get("root_path", "")
        suffix = ("?" + "&".join(f"{k}={v}" for k, v in query.items())) if query else ""
        return RedirectResponse(f"{root}{path}{suffix}", status_code=303)

    def audit(self, request: Request, action: str, target: str = "", detail: str = "") -> None:
        self.store.audit(str(request.state.editor), action, target, detail)
