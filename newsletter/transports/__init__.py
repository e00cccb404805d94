"""Transports: where finished messages go. The core sees only the ``Transport`` protocol."""

from __future__ import annotations

from typing import Protocol

from newsletter.settings import Settings


class Transport(Protocol):
    """Hands one finished RFC 5322 message to a mail system.

    ``send`` returns the provider's message id. It raises ``ThrottledError`` or
    ``TransientTransportError`` for failures worth retrying, ``PermanentTransportError``
    when this message will never be accepted, and ``AccountPausedError`` when the whole
    account cannot send (see ``newsletter.errors``).
    """

    name: str

    def send(self, raw: bytes, to: str) -> str: ...


def make_transport(settings: Settings) -> Transport:
    """The transport the settings choose (``NEWSLETTER_TRANSPORT``)."""
    if settings.chosen_transport() == "ses":
        from newsletter.transports.ses import SesTransport

        return SesTransport.from_settings(settings)
    from newsletter.transports.outbox import OutboxTransport

    return OutboxTransport(settings.outbox_dir)
