"""The editor's preview server: the rendered issue, re-rendered whenever its inputs change."""

from __future__ import annotations

from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from newsletter import wiring
from newsletter.errors import NewsletterError
from newsletter.issues.loader import load_issue
from newsletter.rendering.renderer import DEFAULT_TEMPLATES, LANGUAGES, Variant
from newsletter.settings import Settings

_SHELL = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Preview: {name}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 0; background: #e5e7eb; }}
nav {{ padding: 8px 16px; background: #111827; color: #fff; }}
nav a {{ color: #93c5fd; margin-right: 12px; }}
nav a[aria-current] {{ color: #fff; font-weight: bold; }}
iframe {{ display: block; margin: 16px auto; border: 0; background: #fff;
  width: {width}; height: calc(100vh - 80px); }}
</style></head><body>
<nav>Preview of <b>{name}</b>:
{links}
</nav>
<iframe title="Rendered issue" src="/raw/{view}?language={language}"></iframe>
<script>
// Reload when the issue file or a template changes.
let seen = null;
setInterval(async () => {{
  const r = await fetch('/version'); const v = (await r.json()).version;
  if (seen !== null && v !== seen) location.reload(); seen = v;
}}, 1000);
</script></body></html>"""


def _version(paths: list[Path]) -> str:
    stamps = []
    for root in paths:
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        stamps += [f"{f}:{f.stat().st_mtime_ns}" for f in files]
    return str(hash(tuple(stamps)))


def preview_app(issue_path: Path, settings: Settings) -> Starlette:
    """An ASGI app previewing ``issue_path``; every request renders the current files."""
    templates = settings.templates_dir or DEFAULT_TEMPLATES

    def render(request: Request) -> tuple[str, str] | Response:
        language = request.query_params.get("language", "both")
        if language not in LANGUAGES:
            return PlainTextResponse("language must be zh, en or both", status_code=400)
        try:
            issue = load_issue(issue_path)
            rendered = wiring.renderer(settings).render(
                issue, Variant(language), settings.size_limit_bytes
            )
        except NewsletterError as error:
            return PlainTextResponse(f"The issue cannot be rendered:\n\n{error}", status_code=422)
        return rendered.html, rendered.text

    async def raw(request: Request) -> Response:
        if request.path_params["view"] not in ("html", "text"):
            return PlainTextResponse("not found: the views are /raw/html and /raw/text", 404)
        result = render(request)
        if isinstance(result, Response):
            return result
        html, text = result
        if request.path_params["view"] == "text":
            return PlainTextResponse(text)
        return HTMLResponse(html)

    async def shell(request: Request) -> Response:
        view = request.query_params.get("view", "html")
        language = request.query_params.get("language", "both")
        if view not in ("html", "text", "phone") or language not in LANGUAGES:
            return PlainTextResponse("unknown view or language", status_code=400)
        links = []
        for name, label in (("html", "HTML"), ("text", "Plain text"), ("phone", "Phone (375 px)")):
            current = ' aria-current="page"' if name == view else ""
            links.append(f'<a href="/?view={name}&language={language}"{current}>{label}</a>')
        for lang in LANGUAGES:
            current = ' aria-current="page"' if lang == language else ""
            links.append(f'<a href="/?view={view}&language={lang}"{current}>{lang}</a>')
        page = _SHELL.format(
            name=issue_path.name,
            links="\n".join(links),
            view="text" if view == "text" else "html",
            language=language,
            width="375px" if view == "phone" else "100%",
        )
        return HTMLResponse(page)

    async def version(request: Request) -> Response:
        return JSONResponse({"version": _version([issue_path, templates])})

    return Starlette(
        routes=[
            Route("/", shell),
            Route("/raw/{view:str}", raw),
            Route("/version", version),
        ]
    )
