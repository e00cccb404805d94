"""What every page shares for safety: response headers, the double-submit form token, masking."""

from __future__ import annotations

import re
import secrets

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

FORM_COOKIE = "nl_form"
_FORM_TOKEN = re.compile(r"[0-9a-f]{32}")
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; object-src 'none'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}
# Pages reached through a token must not be cached by anything between us and the reader.
PRIVATE = {"Cache-Control": "no-store"}


class SecurityHeaders:
    """ASGI middleware adding :data:`PAGE_HEADERS` to every response that lacks them."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                for name, value in PAGE_HEADERS.items():
                    if name.lower().encode() not in present:
                        headers.append((name.lower().encode(), value.encode()))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def form_token(request: Request) -> str:
    """The reader's form token: the one in their cookie, or a new random one."""
    existing = request.cookies.get(FORM_COOKIE, "")
    return existing if _FORM_TOKEN.fullmatch(existing) else secrets.token_hex(16)


def with_form_cookie(response: Response, request: Request, token: str) -> Response:
    """Set the form-token cookie that a later POST must echo in its ``form_token`` field."""
    # Double-submit: the form carries the same random value as this cookie; another
    # site can make a browser post, but cannot read or set our cookie to match.
    response.set_cookie(
        FORM_COOKIE, token, httponly=True, samesite="strict",
        secure=request.url.scheme == "https", path="/",
    )
    return response


def form_ok(request: Request, form: FormData) -> bool:
    """True when the posted ``form_token`` matches the cookie (constant-time)."""
    cookie = request.cookies.get(FORM_COOKIE, "")
    sent = form.get("form_token", "")
    return (
        isinstance(sent, str) and bool(_FORM_TOKEN.fullmatch(cookie))
        and secrets.compare_digest(cookie, sent)
    )


def mask(email: str) -> str:
    """``a***@example.org``: enough for readers to recognise their address, no more."""
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"
