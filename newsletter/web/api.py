"""The REST API under ``/api/v1/`` (issue 22): bearer tokens, scopes, per-token rate
limits and one JSON error shape, over the services in ``newsletter/api/``.

Each route names the scope it needs and one service call; :func:`guarded` does the rest:
401 without a live token (no token, unknown, revoked: one answer), 429 over the token's
limit, 403 without the scope, 400 for a body that is not a JSON object, the service's
``ApiError`` as its status, 503 when the database cannot be used.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from newsletter.api.access import Caller, bearer
from newsletter.errors import ApiError, DatabaseError, TransportError
from newsletter.store.api_tokens import ApiTokenStore
from newsletter.web.ratelimit import RateLimiter

log = logging.getLogger(__name__)

NO_STORE = {"Cache-Control": "no-store"}
Endpoint = Callable[[Request], Awaitable[Response]]
# A service call: (caller, path parameters, query parameters, JSON body) -> (status, body).
Call = Callable[[Caller, Mapping[str, str], Mapping[str, str], Mapping[str, Any]],
                tuple[int, Any]]


def error(status: int, code: str, message: str, headers: Mapping[str, str] | None = None
          ) -> JSONResponse:
    """The one error shape of the API."""
    body = {"error": {"status": status, "code": code, "message": message}}
    return JSONResponse(body, status, headers={**NO_STORE, **(headers or {})})


async def json_body(request: Request) -> Mapping[str, Any]:
    """The request's JSON object ({} without a body); ``ApiError`` (400) otherwise."""
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ApiError(400, "invalid_json", f"the body is not JSON: {err}") from None
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_json", "the body must be a JSON object")
    return body


class Api:
    """Turns service calls into endpoints guarded by tokens, scopes and a rate limit."""

    def __init__(self, tokens: ApiTokenStore, limiter: RateLimiter) -> None:
        self.tokens = tokens
        self.limiter = limiter

    async def caller(self, request: Request) -> Caller:
        token = bearer(request.headers.get("authorization"))
        found = None if token is None else await run_in_threadpool(self.tokens.check, token)
        if found is None:
            raise ApiError(401, "unauthorized", "send a live API token as "
                           "'Authorization: Bearer TOKEN' (newsletter api-token create)")
        return Caller(found.name, found.scope)

    def guarded(self, scope: str, call: Call, *, body: bool = False) -> Endpoint:
        async def endpoint(request: Request) -> Response:
            try:
                caller = await self.caller(request)
                if not self.limiter.hit(caller.name):
                    retry = str(max(1, self.limiter.retry_after(caller.name)))
                    return error(429, "rate_limited", f"this token made more than "
                                 f"{self.limiter.limit} requests a minute; retry in {retry} s",
                                 {"Retry-After": retry})
                caller.require(scope)
                payload = await json_body(request) if body else {}
                status, answer = await run_in_threadpool(
                    call, caller, request.path_params, request.query_params, payload)
            except ApiError as err:
                extra = {"WWW-Authenticate": "Bearer"} if err.status == 401 else None
                return error(err.status, err.code, str(err), extra)
            except DatabaseError as err:
                log.warning("API request not done: %s", err)
                return error(503, "unavailable", "the database cannot be used now; retry",
                             {"Retry-After": "60"})
            except TransportError as err:
                log.warning("API request: mail not sent: %s", err)
                return error(502, "mail_failed", f"the email could not be sent: {err}; "
                             "retry later")
            if status == 204:
                return Response(status_code=204, headers=NO_STORE)
            return JSONResponse(answer, status, headers=NO_STORE)

        return endpoint


async def not_found(request: Request, exc: Exception) -> Response:
    return error(404, "not_found", f"no API route {request.url.path}; see /api/v1/openapi.json")


async def not_allowed(request: Request, exc: Exception) -> Response:
    return error(405, "method_not_allowed", f"{request.method} is not allowed here")


async def server_error(request: Request, exc: Exception) -> Response:
    return error(500, "internal", "the server failed on this request; it was logged")
