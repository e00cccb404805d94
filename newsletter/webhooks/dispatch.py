"""Delivering the webhook outbox: each due message signed and posted, then recorded as
delivered, retried with exponential back-off, or, 24 hours after it was written, given
up on, which disables its endpoint with the reason (an operator enables it again).

At least once: a message is marked delivered only after a 2xx answer, so a worker killed
mid-delivery leaves it to be sent again once its lease runs out; every attempt carries
the same ``webhook-id``, so receivers drop repeats.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping
from typing import Protocol

from newsletter.errors import WebhookEndpointError
from newsletter.model.webhooks import Message
from newsletter.webhooks.signing import headers

log = logging.getLogger(__name__)

GIVE_UP_AFTER = dt.timedelta(hours=24)
MAX_DELAY = dt.timedelta(hours=2)
KEEP_DELIVERED = dt.timedelta(days=7)  # delivered messages are forgotten after this
PRUNE_EVERY = dt.timedelta(hours=1)


class Outbox(Protocol):
    """What delivery needs of ``newsletter.store.webhooks.WebhookStore``."""

    def claim(self, lease: dt.timedelta, limit: int = ...) -> list[Message]: ...
    def delivered(self, row_id: int) -> None: ...
    def retry(self, row_id: int, at: dt.datetime, error: str) -> None: ...
    def give_up(self, row_id: int, endpoint_id: int, error: str, reason: str) -> None: ...
    def prune(self, before: dt.datetime) -> int: ...


class Poster(Protocol):
    def post(self, url: str, headers: Mapping[str, str], body: bytes) -> tuple[int, str]: ...


class Webhooks:
    """Delivers due messages. The first retry waits ``first_retry`` seconds, each next one
    twice as long (at most :data:`MAX_DELAY`), until :data:`GIVE_UP_AFTER`."""

    def __init__(self, outbox: Outbox, poster: Poster, clock: Callable[[], dt.datetime],
                 *, first_retry: float, timeout: float) -> None:
        self.outbox = outbox
        self.poster = poster
        self.clock = clock
        self.first_retry = dt.timedelta(seconds=first_retry)
        # Held longer than an attempt can take; after a crash, another worker takes over.
        self.lease = dt.timedelta(seconds=2 * timeout + 5)
        self._pruned: dt.datetime | None = None

    def drain(self, limit: int = 50) -> int:
        """Attempt up to ``limit`` due messages; how many were delivered. Once an hour,
        messages delivered more than :data:`KEEP_DELIVERED` ago are forgotten."""
        now = self.clock()
        if self._pruned is None or now - self._pruned >= PRUNE_EVERY:
            self._pruned = now
            self.outbox.prune(now - KEEP_DELIVERED)
        return sum(self.deliver(message) for message in self.outbox.claim(self.lease, limit))

    def deliver(self, message: Message) -> bool:
        """One attempt; whether the endpoint took it."""
        body = message.payload.encode("utf-8")
        sent_at = int(self.clock().timestamp())
        try:
            status, answer = self.poster.post(
                message.url, headers(message.secret, message.message_id, sent_at, body), body)
        except WebhookEndpointError as err:
            error = str(err)
        else:
            if 200 <= status < 300:
                self.outbox.delivered(message.row_id)
                return True
            error = f"HTTP {status}: {' '.join(answer.split())[:200]}".rstrip(": ")
        self._failed(message, error)
        return False

    def _failed(self, message: Message, error: str) -> None:
        now = self.clock()
        attempts = message.attempts + 1
        deadline = message.created_at + GIVE_UP_AFTER
        if now >= deadline:
            reason = (f"gave up on {message.message_id} ({message.event_type}) after "
                      f"{attempts} attempts over 24 hours; last error: {error}")
            log.warning("webhook endpoint %d disabled: %s", message.endpoint_id, reason)
            self.outbox.give_up(message.row_id, message.endpoint_id, error, reason)
            return
        delay = min(self.first_retry * 2 ** (attempts - 1), MAX_DELAY)
        log.info("webhook %s to endpoint %d failed (%s); retry in %s", message.message_id,
                 message.endpoint_id, error, delay)
        self.outbox.retry(message.row_id, min(now + delay, deadline), error)
