"""Server-rendered pages: one Jinja environment over ``templates/web``, page text in templates."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.templating import Jinja2Templates

from newsletter.rendering.compiled import SharedCompiledTemplates
from newsletter.web.security import PRIVATE

# Every app's pages have the same options: they share compiled templates.
_COMPILED = SharedCompiledTemplates()


class Pages:
    """Renders ``templates/web/<name>.html.j2``; the one-message pages live in ``pages/``."""

    def __init__(self, templates_dir: Path, root: str = "") -> None:
        """``root`` is the path of ``NEWSLETTER_BASE_URL`` (``/news``), prefixed to links."""
        env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(templates_dir),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            bytecode_cache=_COMPILED,
        )
        env.globals["root"] = root
        self.templates = Jinja2Templates(env=env)

    def render(
        self, request: Request, name: str, context: Mapping[str, Any], status: int = 200,
        headers: Mapping[str, str] | None = None, background: BackgroundTask | None = None,
    ) -> HTMLResponse:
        return self.templates.TemplateResponse(
            request, f"web/{name}.html.j2", dict(context), status_code=status,
            headers=headers, background=background,
        )

    def message(
        self, request: Request, name: str, status: int = 200,
        headers: Mapping[str, str] | None = None, background: BackgroundTask | None = None,
        **context: Any,
    ) -> HTMLResponse:
        """One of the message pages in ``templates/web/pages/``."""
        return self.render(request, f"pages/{name}", context, status, headers, background)

    def bad_link(self, request: Request, error: Exception) -> HTMLResponse:
        """The 400 page for an invalid, expired or refused link, with a way forward."""
        return self.message(request, "bad_link", 400, PRIVATE, error=str(error))
