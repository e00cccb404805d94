"""Every desk route needs a session, and every POST its CSRF token: one middleware.

It wraps the whole ``/admin`` mount, so a route added later cannot forget either. Without a
live session a GET is redirected to the sign-in page and any other method gets 403, never
content; with one, ``request.state.editor`` is the editor's address and
``request.state.csrf`` the token every form carries (``csrf`` field, or the ``X-CSRF-Token``
header for scripts). Only the sign-in pages are public; they carry the site's own
double-submit form token instead.
"""

from __future__ import annotations

from urllib.parse import parse_qs

from starlette.concurrency import run_in_threadpool
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from newsletter.desk.signin import SignIn

SESSION_COOKIE = "nl_desk"
# Paths under /admin that need no session (the sign-in flow itself).
PUBLIC_PREFIXES = ("/sign-in",)
SAFE_METHODS = frozenset({"GET", "HEAD"})
MAX_FORM = 2_000_000  # bytes of a desk form read to find its CSRF token (issues are big)


def session_of(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name == b"cookie":
            for part in value.decode("latin-1").split(";"):
                key, _, val = part.strip().partition("=")
                if key == SESSION_COOKIE:
                    return str(val)
    return ""


class DeskGuard:
    """ASGI middleware: sessions and CSRF for everything mounted under ``/admin``."""

    def __init__(self, app: ASGIApp, sign_in: SignIn) -> None:
        self.app = app
        self.sign_in = sign_in

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        root = scope.get("root_path", "")
        inner = path[len(root):] if path.startswith(root) else path
        if inner.startswith(PUBLIC_PREFIXES):
            await self.app(scope, receive, send)
            return
        session = session_of(scope)
        editor = await run_in_threadpool(self.sign_in.editor, session) if session else None
        method = scope.get("method", "GET")
        if editor is None:
            response: Response = (
                RedirectResponse(f"{root}/sign-in", status_code=303) if method in SAFE_METHODS
                else PlainTextResponse("sign in first", status_code=403)
            )
            await response(scope, receive, send)
            return
        csrf = self.sign_in.csrf_token(session)
        scope.setdefault("state", {})
        scope["state"]["editor"] = editor
        scope["state"]["csrf"] = csrf
        scope["state"]["session"] = session
        if method in SAFE_METHODS:
            await self.app(scope, receive, send)
            return
        body, replay = await _read_body(receive)
        if not self.sign_in.csrf_ok(session, _csrf_from(scope, body)):
            await PlainTextResponse("missing or wrong CSRF token", status_code=403)(
                scope, receive, send)
            return
        await self.app(scope, replay, send)


async def _read_body(receive: Receive) -> tuple[bytes, Receive]:
    """The whole body (the app's own limits have capped it), and a ``receive`` that gives
    it again to the app."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return body, replay


def _csrf_from(scope: Scope, body: bytes) -> str:
    for name, value in scope.get("headers", []):
        if name == b"x-csrf-token":
            return str(value.decode("latin-1"))
    content_type = ""
    for name, value in scope.get("headers", []):
        if name == b"content-type":
            content_type = value.decode("latin-1")
    if content_type.startswith("application/x-www-form-urlencoded"):
        values = parse_qs(body[:MAX_FORM].decode("utf-8", "replace")).get("csrf", [""])
        return values[0]
    if content_type.startswith("multipart/form-data"):
        # The token is sent first in every desk form; find the field's value.
        marker = b'name="csrf"\r\n\r\n'
        at = body.find(marker, 0, MAX_FORM)
        if at >= 0:
            end = body.find(b"\r\n", at + len(marker))
            return body[at + len(marker):end].decode("latin-1")
    return ""
