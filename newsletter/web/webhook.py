"""``POST /webhooks/ses``: SES bounces and complaints, delivered by SNS, become suppressions.

The endpoint is thin: verify (``events.verify_sns``), normalise (``events.parse_ses_event``),
then suppress each address the event names. Anything that does not verify is refused
with 403 and changes nothing.
"""

from __future__ import annotations

import logging
import urllib.request
from collections.abc import Awaitable, Callable
from functools import lru_cache
from typing import Protocol

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from newsletter.errors import InvalidAddressError
from newsletter.feedback.sns import (
    CERT_URL,
    SUBSCRIBE_URL,
    Fetcher,
    WebhookError,
    parse_ses_event,
    suppressions_for,
    verify_sns,
)

log = logging.getLogger(__name__)
MAX_BODY = 256 * 1024


class Suppressor(Protocol):
    def suppress(self, email: str, reason: str, detail: str = "") -> None: ...


@lru_cache(maxsize=16)
def fetch_pinned(url: str) -> bytes:
    """GET one of SNS's own URLs (certificate or subscription confirmation); cached.

    Refuses any URL the pinned patterns do not match, so a forged message cannot make
    the server fetch an address of the attacker's choosing.
    """
    if not (CERT_URL.match(url) or SUBSCRIBE_URL.match(url)):
        raise WebhookError(f"refusing to fetch {url!r}")
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 -- pinned https URL
        body: bytes = response.read(MAX_BODY)
    return body


def ses_webhook(
    store: Suppressor, topics: frozenset[str], fetch: Fetcher = fetch_pinned
) -> Callable[[Request], Awaitable[Response]]:
    """The endpoint; ``fetch`` is the one piece of network I/O (tests pass their own)."""

    async def endpoint(request: Request) -> Response:
        body = await request.body()
        if len(body) > MAX_BODY:
            return PlainTextResponse("too large", status_code=413)
        try:
            message = await run_in_threadpool(verify_sns, body, fetch, topics)
        except WebhookError as err:
            log.warning("refused an SES webhook: %s", err)
            return PlainTextResponse("refused", status_code=403)
        if message.type == "SubscriptionConfirmation" and message.subscribe_url:
            await run_in_threadpool(fetch, message.subscribe_url)
            return JSONResponse({"subscribed": message.topic_arn})
        if message.type != "Notification":
            return JSONResponse({"ignored": message.type})
        try:
            event = parse_ses_event(message.message)
        except WebhookError as err:
            # Retrying will not make it parse; answer 200 so SNS does not resend it.
            log.error("an SES notification could not be read: %s", err)
            return JSONResponse({"ignored": "unreadable"})
        suppressed = 0
        for address, reason, detail in suppressions_for(event):
            try:
                await run_in_threadpool(store.suppress, address, reason, detail)
                suppressed += 1
            except InvalidAddressError as err:
                log.warning("SES reported an address we cannot store: %s", err)
        return JSONResponse({"event": event.kind, "suppressed": suppressed})

    return endpoint
