"""The editor's preview server: the rendered issue, re-rendered whenever its inputs change."""

from __future__ import annotations

import hashlib
import html
import ipaddress
from collections.abc import Callable
from pathlib import Path

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from newsletter.errors import NewsletterError
from newsletter.issues.loader import load_issue
from newsletter.rendering.renderer import Renderer
from newsletter.vocabulary import LANGUAGES, Variant

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
// Reload when the issue file or a template changes. The version starts as the one this
// page was rendered from, so a save made between this render and the first poll is seen.
const seen = "{version}";
setInterval(async () => {{
  const r = await fetch('/version'); const v = (await r.json()).version;
  if (v !== seen) location.reload();
}}, 1000);
</script></body></html>"""

_LOOPBACK = ("127.0.0.1", "localhost", "::1")


def _version(paths: list[Path]) -> str:
    """A digest of the contents of the files under ``paths``.

    Contents, not modification times: two saves within the file system's timestamp
    resolution (a second on some) would otherwise look like one, losing the second edit.
    """
    digest = hashlib.sha256()
    for root in paths:
        try:
            files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        except OSError:
            files = []
        for file in files:
            digest.update(str(file).encode("utf-8", "surrogateescape") + b"\0")
            try:
                digest.update(file.read_bytes())
            except OSError:
                digest.update(b"(unreadable)")
            digest.update(b"\0")
    return digest.hexdigest()


class OwnHostOnly:
    """Answer only requests whose ``Host`` names this server; others get 421.

    A web page elsewhere could point its own domain name at 127.0.0.1 (DNS rebinding) and
    read the unpublished issue through the reader's browser; such requests carry that
    domain in ``Host``. Accepted: the ``--host`` given, and for a loopback or wildcard
    address the loopback names and IP literals, each with our port.
    """

    def __init__(self, app: ASGIApp, host: str, port: int) -> None:
        self.app = app
        self.port = port
        names = {host.strip("[]").lower()}
        if host in _LOOPBACK:
            names |= set(_LOOPBACK)
        self.names = names
        self.any_ip = host in ("0.0.0.0", "::", "")  # noqa: S104 -- names, not a bind

    def allowed(self, header: str) -> bool:
        name, port = _split_host(header.lower())
        if port != self.port:
            return False
        if name in self.names:
            return True
        if self.any_ip:
            try:
                ipaddress.ip_address(name)
            except ValueError:
                return name == "localhost"
            return True
        return False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            header = dict(scope["headers"]).get(b"host", b"").decode("latin-1")
            if not self.allowed(header):
                response = PlainTextResponse(
                    "misdirected request: this preview answers only its own address",
                    status_code=421,
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _split_host(header: str) -> tuple[str, int | None]:
    """``("::1", 8000)`` from ``[::1]:8000``; the port is None when absent or not a number."""
    if header.startswith("["):
        name, _, rest = header[1:].partition("]")
        port = rest.removeprefix(":")
    else:
        name, _, port = header.rpartition(":") if ":" in header else (header, "", "")
    return name, int(port) if port.isdigit() else None


def preview_app(
    issue_path: Path,
    renderer: Callable[[], Renderer],
    size_limit: int,
    host: str = "127.0.0.1",
    port: int = 8000,
) -> ASGIApp:
    """An ASGI app previewing ``issue_path``; every request renders the current files.

    ``renderer`` makes a renderer over the templates being edited (a fresh one per
    request, so that edited templates and CSS show); HTML is cut to ``size_limit`` bytes as
    readers would get it. It answers only requests addressed to ``host:port`` (see
    :class:`OwnHostOnly`).
    """
    templates_dir = renderer().templates_dir  # watched for changes, with the issue file

    def render(request: Request) -> tuple[str, str] | Response:
        language = request.query_params.get("language", "both")
        if language not in LANGUAGES:
            return PlainTextResponse("language must be zh, en or both", status_code=400)
        try:
            issue = load_issue(issue_path)
            made = renderer()
            rendered = made.render(issue, Variant(language), size_limit)
        except NewsletterError as error:
            return PlainTextResponse(f"The issue cannot be rendered:\n\n{error}", status_code=422)
        return rendered.html, rendered.text

    async def raw(request: Request) -> Response:
        if request.path_params["view"] not in ("html", "text"):
            return PlainTextResponse("not found: the views are /raw/html and /raw/text", 404)
        # Reading and rendering take a while: off the event loop.
        result = await run_in_threadpool(render, request)
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
        version = await run_in_threadpool(_version, [issue_path, templates_dir])
        page = _SHELL.format(
            name=html.escape(issue_path.name),
            version=version,
            links="\n".join(links),
            view="text" if view == "text" else "html",
            language=language,
            width="375px" if view == "phone" else "100%",
        )
        return HTMLResponse(page)

    async def version(request: Request) -> Response:
        return JSONResponse(
            {"version": await run_in_threadpool(_version, [issue_path, templates_dir])}
        )

    app = Starlette(
        routes=[
            Route("/", shell),
            Route("/raw/{view:str}", raw),
            Route("/version", version),
        ]
    )
    return OwnHostOnly(app, host, port)
