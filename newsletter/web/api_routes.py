"""The routes of ``/api/v1/`` (issue 22): a Starlette app mounted by ``web/app.py``, with
its own JSON answers for unknown routes and methods."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from newsletter.api.access import Caller
from newsletter.api.openapi import document
from newsletter.api.services import ApiServices
from newsletter.web.api import Api, not_allowed, not_found, server_error
from newsletter.web.api_subscribe import EmbedSignups
from newsletter.web.ratelimit import RateLimiter
from newsletter.web.subscription import SubscriptionRoutes

WINDOW = 60.0  # seconds: the rate limit is per token per minute


def api_app(services: ApiServices, readers: SubscriptionRoutes,
            limiter: RateLimiter | None = None) -> Starlette:
    api = Api(services.tokens, limiter or RateLimiter(services.rate_limit, WINDOW))
    r, c, i = services.readers, services.campaigns, services.issues
    spec = document(services.base_url)

    async def openapi(request: Request) -> Response:
        return JSONResponse(spec)

    def erase(who: Caller, path: Mapping[str, str], query: Mapping[str, str],
              body: Mapping[str, Any]) -> tuple[int, None]:
        r.erase(who, path["id"])
        return 204, None

    routes = [
        Route("/openapi.json", openapi, methods=["GET"]),
        Route("/subscribe", EmbedSignups(readers, services.embed_origins).app(),
              methods=["POST", "OPTIONS"]),
        Route("/subscribers", api.guarded(
            "read", lambda who, path, query, body: (200, r.search(who, query))),
            methods=["GET"]),
        Route("/subscribers", api.guarded(
            "write", lambda who, path, query, body: r.create(who, body), body=True),
            methods=["POST"]),
        Route("/subscribers/{id}", api.guarded(
            "read", lambda who, path, query, body: (200, r.get(who, path["id"]))),
            methods=["GET"]),
        Route("/subscribers/{id}", api.guarded(
            "write", lambda who, path, query, body: (200, r.update(who, path["id"], body)),
            body=True), methods=["PATCH"]),
        Route("/subscribers/{id}", api.guarded("write", erase), methods=["DELETE"]),
        Route("/subscribers/{id}/unsubscribe", api.guarded(
            "write", lambda who, path, query, body: (200, r.unsubscribe(who, path["id"]))),
            methods=["POST"]),
        Route("/campaigns", api.guarded(
            "read", lambda who, path, query, body: (200, c.list(who, query))),
            methods=["GET"]),
        Route("/campaigns/{ref}", api.guarded(
            "read", lambda who, path, query, body: (200, c.get(who, path["ref"]))),
            methods=["GET"]),
        Route("/issues", api.guarded(
            "read", lambda who, path, query, body: (200, i.list(who, query))),
            methods=["GET"]),
        Route("/issues/{date}", api.guarded(
            "read", lambda who, path, query, body: (200, i.get(who, path["date"]))),
            methods=["GET"]),
    ]
    return Starlette(routes=routes, exception_handlers={
        404: not_found, 405: not_allowed, Exception: server_error})
