"""``POST /api/v1/subscribe``: sign-up from a form on the operator's own site (issue 22).

The same path as the site's form (``SubscriptionRoutes``): the same per-client limiter,
honeypot field, address and choice checks, and the same sign-up queue, whose thread runs
the double opt-in workflow after the answer, which is the same whatever the address. What
differs is who may post: only pages on an origin in ``NEWSLETTER_EMBED_ORIGINS`` (the
browser's ``Origin`` header; anything else is refused and nothing is done), and CORS
headers for exactly those origins, so the snippet's script can read the answer. A plain
form post without JavaScript gets the site's HTML page; a request accepting JSON gets JSON.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import request_response
from starlette.types import ASGIApp

from newsletter.errors import ApiError
from newsletter.subscribers.choices import Problem, read_address, read_choices
from newsletter.web.api import error, json_body
from newsletter.web.clients import rate_key
from newsletter.web.subscription import RETRY_AFTER, SubscriptionRoutes

ACCEPTED = ("我们已发送确认邮件（如果这个地址可以订阅），请查收并点击其中的按钮。 "
            "Check your inbox: if this address can be subscribed, we sent it a "
            "confirmation link.")


def _wants_json(request: Request) -> bool:
    return ("application/json" in request.headers.get("accept", "")
            or request.headers.get("content-type", "").startswith("application/json"))


async def _fields(request: Request) -> tuple[str, set[str] | None, str, bool]:
    """email, categories (None: not given), language, honeypot filled."""
    if request.headers.get("content-type", "").startswith("application/json"):
        body: Mapping[str, Any] = await json_body(request)
        cats = body.get("categories")
        chosen = ({str(c) for c in cats} if isinstance(cats, list) else None)
        return (str(body.get("email", ""))[:320], chosen, str(body.get("language", "both")),
                bool(body.get("website")))
    form = await request.form()
    listed = [str(c) for c in form.getlist("categories")]
    return (str(form.get("email", ""))[:320], set(listed) if listed else None,
            str(form.get("language", "") or "both"), bool(form.get("website")))


class EmbedSignups:
    def __init__(self, readers: SubscriptionRoutes, origins: Collection[str]) -> None:
        self.readers = readers
        self.origins = frozenset(origins)

    def app(self) -> ASGIApp:
        """The endpoint with CORS for the listed origins only (Starlette's middleware)."""
        return CORSMiddleware(
            request_response(self.subscribe), allow_origins=sorted(self.origins),
            allow_methods=["POST"], allow_headers=["Content-Type", "Accept"], max_age=600,
        )

    async def subscribe(self, request: Request) -> Response:
        wants_json = _wants_json(request)
        if request.headers.get("origin") not in self.origins:
            return error(403, "origin_not_allowed", "sign-ups are taken only from pages on "
                         "the origins in NEWSLETTER_EMBED_ORIGINS")
        client = rate_key(request.client.host) if request.client else "unknown"
        limiter = self.readers.limiter
        if not limiter.hit(client):
            retry = str(max(1, limiter.retry_after(client)))
            if wants_json:
                return error(429, "rate_limited", "too many sign-ups from here; retry later",
                             {"Retry-After": retry})
            return self.readers.pages.message(request, "limited", 429, {"Retry-After": retry})
        try:
            email, chosen, language, honeypot = await _fields(request)
        except ApiError as err:
            return error(err.status, err.code, str(err))
        if honeypot:
            return self.accepted(request, wants_json)  # a bot: pretend, do nothing
        available = await self.readers.categories()
        address = read_address(email)
        choices = read_choices(set(available) if chosen is None else chosen, language,
                               available)
        problems = [p for p in (address, choices) if isinstance(p, Problem)]
        if problems:
            if wants_json:
                return error(422, "invalid", "; ".join(f"{p.field}: {p.en}" for p in problems))
            return await self.readers.subscribe_form(
                request, email=email, chosen=chosen, language=language, status=400,
                errors={p.field: p for p in problems})
        assert not isinstance(address, Problem) and not isinstance(choices, Problem)
        if not self.readers.signups.put(address, choices):
            if wants_json:
                return error(503, "unavailable", "sign-ups cannot be taken now; retry",
                             {"Retry-After": RETRY_AFTER})
            return self.readers.unavailable(request)
        return self.accepted(request, wants_json)

    def accepted(self, request: Request, wants_json: bool) -> Response:
        if wants_json:
            return JSONResponse({"status": "pending", "message": ACCEPTED}, 202,
                                headers={"Cache-Control": "no-store"})
        return self.readers.pages.message(request, "sent")
