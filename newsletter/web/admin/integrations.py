"""``/admin/integrations`` (issue 22): the sign-up form to copy onto the operator's site,
the API tokens (made and revoked with ``newsletter api-token``), and the webhook endpoints:
add one (its secret is shown once), remove one, enable a disabled one again. Each change
is audited and answered with a redirect, as on every desk page."""

from __future__ import annotations

import functools
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from newsletter.api.embed import snippet
from newsletter.errors import WebhookEndpointError
from newsletter.model.webhooks import EVENT_TYPES, Endpoint
from newsletter.store.api_tokens import ApiTokenStore
from newsletter.store.webhooks import WebhookStore
from newsletter.web.admin.parts import Desk
from newsletter.web.admin.suppressions import when_in
from newsletter.webhooks.endpoints import add_endpoint

DONE = {
    "removed": "Endpoint removed, with the messages waiting for it.",
    "enabled": "Endpoint enabled: what it missed is retried for another 24 hours.",
}


def routes(desk: Desk) -> list[BaseRoute]:
    @functools.cache
    def hooks() -> WebhookStore:
        return WebhookStore(desk.subscribers.db, desk.clock)

    @functools.cache
    def tokens() -> ApiTokenStore:
        return ApiTokenStore(desk.subscribers.db, desk.clock)

    async def show(request: Request, status: int = 200, **extra: Any) -> Response:
        found = await run_in_threadpool(
            lambda: {"endpoints": hooks().all(), "tokens": tokens().all()})
        context: dict[str, Any] = {
            "page_title": "Integrations", "section": "integrations",
            "snippet": snippet(desk.site.base_url), "origins": desk.embed_origins,
            "events": EVENT_TYPES, "when": when_in(desk.site.zone),
            "zone_name": desk.site.zone.key,
            "done": DONE.get(request.query_params.get("done", ""), ""),
            "error": "", "added": None, "url": "", "chosen": set(),
            **found, **extra,
        }
        return desk.render(request, "integrations", context, status)

    async def listing(request: Request) -> Response:
        return await show(request)

    async def add(request: Request) -> Response:
        form = await request.form()
        url = str(form.get("url", ""))[:2000]
        chosen = [str(e) for e in form.getlist("events")]

        def run() -> Endpoint:
            endpoint = add_endpoint(hooks(), url, chosen,
                                    allow_private=desk.webhooks_allow_private)
            desk.audit(request, "add webhook", endpoint.url, ",".join(sorted(endpoint.events)))
            return endpoint

        try:
            endpoint = await run_in_threadpool(run)
        except WebhookEndpointError as error:
            return await show(request, 400, error=str(error), url=url, chosen=set(chosen))
        # The one time the secret is shown: on this answer, never stored in a page again.
        return await show(request, 201, added=endpoint)

    def one(request: Request, form: Any) -> int | None:
        value = str(form.get("id", ""))
        return int(value) if value.isdigit() and len(value) < 19 else None

    async def remove(request: Request) -> Response:
        endpoint_id = one(request, await request.form())

        def run() -> None:
            if endpoint_id is not None and hooks().remove(endpoint_id):
                desk.audit(request, "remove webhook", f"#{endpoint_id}")

        await run_in_threadpool(run)
        return desk.back(request, "/integrations", done="removed")

    async def enable(request: Request) -> Response:
        endpoint_id = one(request, await request.form())

        def run() -> None:
            if endpoint_id is not None and hooks().enable(endpoint_id):
                desk.audit(request, "enable webhook", f"#{endpoint_id}")

        await run_in_threadpool(run)
        return desk.back(request, "/integrations", done="enabled")

    return [
        Route("/integrations", listing, methods=["GET"]),
        Route("/integrations/webhooks", add, methods=["POST"]),
        Route("/integrations/webhooks/remove", remove, methods=["POST"]),
        Route("/integrations/webhooks/enable", enable, methods=["POST"]),
    ]
