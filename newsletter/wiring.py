"""The one place that builds the parts from ``Settings``: database, renderer, sender,
transport, subscription workflow. Everything else receives the parts it needs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy import Engine

from newsletter.clock import utc_now
from newsletter.mail.message import Sender
from newsletter.rendering.renderer import Renderer
from newsletter.settings import Settings
from newsletter.store.db import open_database, translated
from newsletter.subscribers.workflow import ConfirmationMailer, Store, Subscriptions
from newsletter.transports import Transport
from newsletter.transports.outbox import OutboxTransport


@contextmanager
def database(settings: Settings) -> Iterator[Engine]:
    """The configured database, upgraded or checked (see ``open_database``), closed after.

    Raises ``SchemaOutOfDateError`` when a PostgreSQL schema needs ``newsletter db upgrade``;
    a database failure inside the block leaves it as ``DatabaseError``.
    """
    engine = open_database(settings.database_url)
    try:
        with translated(settings.database_url):
            yield engine
    finally:
        engine.dispose()


def sender(settings: Settings) -> Sender:
    """The From, Reply-To, List-Id and unsubscribe addresses every message carries."""
    return Sender(
        from_address=settings.from_address,
        base_url=settings.base_url,
        list_id=settings.list_id,
        reply_to=settings.reply_to,
        unsubscribe_mailto=settings.unsubscribe_mailto,
    )


def renderer(settings: Settings) -> Renderer:
    """The renderer over the configured templates and base URL."""
    return Renderer(settings.base_url, settings.templates_dir)


def transport(settings: Settings) -> Transport:
    """The transport the settings choose (``NEWSLETTER_TRANSPORT``)."""
    if settings.chosen_transport() == "ses":
        from newsletter.transports.ses import SesTransport  # boto3 only when it is used

        return SesTransport.from_settings(settings)
    return OutboxTransport(settings.outbox_dir)


def subscriptions(
    settings: Settings,
    store: Store,
    chosen_transport: Transport | None = None,
    clock: Callable[[], dt.datetime] = utc_now,
) -> Subscriptions:
    """The workflow as the settings configure it (transport, sender, key, base URL).

    Raises :class:`ConfigurationError` when the secret key is unsafe.
    """
    return Subscriptions(
        store=store,
        transport=chosen_transport or transport(settings),
        mailer=ConfirmationMailer(renderer(settings), sender(settings)),
        secret=settings.signing_key(),
        fallbacks=settings.verification_keys(),
        base_url=settings.base_url,
        clock=clock,
    )
