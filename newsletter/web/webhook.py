"""``POST /webhooks/ses``: SES events delivered by SNS, through the one feedback pipeline.

The endpoint is thin: read at most ``MAX_BODY`` bytes (in chunks, refusing before reading
the rest of a larger body), hand the body to ``WebhookIntake.receive``, answer. Anything
that does not verify, parse or look like SNS is refused with 403 and changes nothing; a
replayed MessageId is acknowledged with 200 and changes nothing. A database failure is a
500, and a SubscribeURL that cannot be reached a 503, so that SNS delivers the message
again later.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from newsletter.errors import WebhookError
from newsletter.feedback.apply import Feedback, WebhookIntake
from newsletter.feedback.fetch import MAX_BODY
from newsletter.feedback.sns import Fetcher

log = logging.getLogger(__name__)


async def read_capped(request: Request, limit: int = MAX_BODY) -> bytes | None:
    """The body, or None as soon as it is known to exceed ``limit`` (the rest is not read)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


async def _confirm(fetch: Fetcher, url: str, detail: str) -> Response:
    """Visit SNS's SubscribeURL; 503 with Retry-After when it cannot be reached, so that SNS
    sends the confirmation again (it retries 5xx answers)."""
    try:
        await run_in_threadpool(fetch, url)
    except WebhookError:
        raise
    except Exception as err:  # the network: unreachable, refused, timed out, an HTTP error
        log.warning("could not confirm the SNS subscription (SNS will retry): %s", err)
        return PlainTextResponse("could not confirm the subscription; try again later",
                                 status_code=503, headers={"Retry-After": "60"})
    return JSONResponse({"subscribed": detail})


def ses_webhook(feedback: Feedback, fetch: Fetcher) -> Callable[[Request], Awaitable[Response]]:
    """The endpoint over the feedback pipeline; ``fetch`` confirms SNS subscriptions (the
    one piece of network I/O here)."""
    intake = WebhookIntake(feedback)

    async def endpoint(request: Request) -> Response:
        body = await read_capped(request)
        if body is None:
            return PlainTextResponse("too large", status_code=413)
        try:
            outcome = await intake.receive(body)
            if outcome.subscribe_url:
                return await _confirm(fetch, outcome.subscribe_url, outcome.detail)
        except WebhookError as err:
            log.warning("refused an SES webhook: %s", err)
            return PlainTextResponse("refused", status_code=403)
        if outcome.status in ("ignored", "replayed"):
            return JSONResponse({outcome.status: outcome.detail})
        result = outcome.result
        return JSONResponse({"event": outcome.detail, "suppressed": result.suppressed,
                             **({"duplicate": True} if outcome.status == "duplicate" else {})})

    return endpoint
