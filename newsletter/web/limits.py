"""Request body caps, enforced while the body streams in (ASGI middleware).

Starlette reads a form whole before any endpoint can look at it, so a 1 GB post to
``/subscribe`` or ``/unsubscribe/<anything>`` would be buffered and parsed in full. This
middleware refuses a declared ``Content-Length`` over the cap before reading a byte, and
counts the bytes of a chunked body as they arrive, answering 413 as soon as the count
passes the cap; the rest of the body is never read.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

FORM_BODY_LIMIT = 16 * 1024  # bytes; the largest legitimate form is well under 2 KB
_TOO_LARGE = "请求内容过大。 Request body too large."


class _BodyTooLarge(Exception):
    """Raised from ``receive`` inside the app when the body passes its cap."""


class BodyLimit:
    """Cap every request body at ``default`` bytes, or ``per_path[prefix]`` for a path prefix."""

    def __init__(
        self, app: ASGIApp, default: int = FORM_BODY_LIMIT,
        per_path: Mapping[str, int] | None = None,
    ) -> None:
        self.app = app
        self.default = default
        self.per_path = dict(per_path or {})

    def limit_for(self, path: str) -> int:
        for prefix, limit in self.per_path.items():
            if path.startswith(prefix):
                return limit
        return self.default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # Under a base path (BasePath, outside this layer) the path carries the prefix:
        # the caps are per route, so compare the path inside the app.
        path: str = scope["path"]
        root: str = scope.get("root_path", "")
        limit = self.limit_for(path[len(root):] if root and path.startswith(root) else path)
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _refuse(scope, receive, send)
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _BodyTooLarge:
            if not started:
                await _refuse(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _refuse(scope: Scope, receive: Receive, send: Send) -> None:
    # "Connection: close": the unread rest of the body must not be taken for a next request.
    response = PlainTextResponse(_TOO_LARGE, status_code=413, headers={"Connection": "close"})
    await response(scope, receive, send)
