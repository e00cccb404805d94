"""Serving under the path of ``NEWSLETTER_BASE_URL`` (``https://example.org/news``).

A reverse proxy may pass ``/news/archive/`` on as it is, or strip the prefix and pass
``/archive/``. Both reach the same route: the path is made to start with the prefix,
and the prefix becomes the ASGI ``root_path``, which Starlette's router leaves out when
matching and keeps in ``request.url``. Links in pages are built from the base URL.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send


class BasePath:
    """ASGI middleware mounting ``app`` at ``prefix`` (``"/news"``; ``""`` does nothing)."""

    def __init__(self, app: ASGIApp, prefix: str) -> None:
        self.app = app
        self.prefix = prefix.rstrip("/")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.prefix and scope["type"] in ("http", "websocket"):
            scope = dict(scope)
            path: str = scope["path"]
            if path == self.prefix:
                scope["path"] = path + "/"
            elif not path.startswith(self.prefix + "/"):
                scope["path"] = self.prefix + path  # the proxy stripped the prefix
            scope["root_path"] = self.prefix
        await self.app(scope, receive, send)
