"""Transports: where finished messages go. The core sees only the ``Transport`` protocol."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

# The most concurrent sends one process makes; a transport's connection pool holds as many.
MAX_CONCURRENCY = 64


class Transport(Protocol):
    """Hands one finished RFC 5322 message to a mail system.

    ``send`` returns the provider's message id. It raises ``ThrottledError`` or
    ``TransientTransportError`` for failures worth retrying (``InDoubtTransportError`` when
    the message may have been sent all the same), ``PermanentTransportError`` when this
    message will never be accepted, and ``AccountPausedError`` when the whole account
    cannot send (see ``newsletter.errors``).
    """

    name: str

    def send(self, raw: bytes, to: str) -> str: ...


@runtime_checkable
class TaggingTransport(Protocol):
    """A transport that can attach tags to a message (SES ``EmailTags``).

    The tags come back on the provider's events (``nl_delivery``, ``nl_campaign``), which
    is how an event names our delivery even when the send's answer was lost.
    """

    def send_tagged(self, raw: bytes, to: str, tags: Mapping[str, str]) -> str: ...


@dataclass(frozen=True)
class SendQuota:
    """The account's sending limits, as the provider reports them."""

    max_send_rate: float
    max_24_hour_send: float
    sent_last_24_hours: float

    @property
    def remaining_24_hours(self) -> int:
        """Messages that may still be sent in the current 24-hour window (never negative)."""
        return max(0, int(self.max_24_hour_send - self.sent_last_24_hours))


@runtime_checkable
class QuotaReporter(Protocol):
    """A transport that can report the account's quota (SES can, the outbox cannot)."""

    def quota(self) -> SendQuota | None:
        """The quota now, or None when the provider does not say."""
        ...
