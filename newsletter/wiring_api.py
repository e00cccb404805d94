"""The composition of issue 22's parts (the welcome email, the REST API, outgoing
webhooks), beside ``wiring.py`` and in the same role: every part built from ``Settings``."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from newsletter.api.catalog import CampaignsApi, IssuesApi
from newsletter.api.readers import ReadersApi
from newsletter.api.services import ApiServices
from newsletter.clock import utc_now
from newsletter.settings import Settings
from newsletter.store.api_reads import CampaignPages
from newsletter.store.api_tokens import ApiTokenStore
from newsletter.store.campaigns import CampaignStore
from newsletter.store.db import Database
from newsletter.store.desk import DeskStore
from newsletter.store.readers import ReaderQueries
from newsletter.store.subscribers import SubscriberStore
from newsletter.store.webhooks import WebhookStore
from newsletter.store.welcome import WelcomeStore
from newsletter.subscribers.welcome import WelcomeMailer, Welcomes
from newsletter.transports import Transport
from newsletter.webhooks.dispatch import Webhooks
from newsletter.webhooks.http import HttpPoster
from newsletter.wiring import database, renderer, sender, subscriptions, transport


def welcomes(
    settings: Settings,
    db: Database,
    chosen_transport: Transport | None = None,
    clock: Callable[[], dt.datetime] = utc_now,
) -> Welcomes:
    """Sends the welcome emails confirmations queue. Raises ``ConfigurationError`` for an
    unsafe secret key (the welcome carries signed links)."""
    made: Callable[[], Transport] = (
        (lambda: chosen_transport) if chosen_transport is not None
        else functools.cache(lambda: transport(settings))
    )
    campaign_store = CampaignStore(db, clock)

    def latest_issue() -> str | None:
        return max(campaign_store.sent_issue_dates(), default=None)

    return Welcomes(
        outbox=WelcomeStore(db, clock), readers=SubscriberStore(db, clock), transport=made,
        mailer=WelcomeMailer(renderer(settings), sender(settings)),
        secret=settings.signing_key(), base_url=settings.base_url,
        latest_issue=latest_issue, clock=clock,
    )


@contextmanager
def outbox_drains(
    settings: Settings, clock: Callable[[], dt.datetime] = utc_now
) -> Iterator[list[tuple[str, Callable[[], int]]]]:
    """What ``newsletter worker`` drains beside sending, by name, over its own database
    connection (closed after): queued welcome emails and webhook messages."""
    with database(settings, create=False) as db:
        yield [("welcome emails", welcomes(settings, db, clock=clock).drain),
               ("webhooks", webhooks(settings, db, clock).drain)]


def api_services(
    settings: Settings,
    db: Database,
    chosen_transport: Transport | None = None,
    clock: Callable[[], dt.datetime] = utc_now,
) -> ApiServices:
    """The REST API's services over ``db``; readers added as pending get their
    confirmation through the configured (or ``chosen_transport``) transport."""
    store = SubscriberStore(db, clock)
    campaign_store = CampaignStore(db, clock)
    return ApiServices(
        tokens=ApiTokenStore(db, clock),
        readers=ReadersApi(
            store, ReaderQueries(db),
            functools.cache(lambda: subscriptions(settings, store, chosen_transport, clock)),
            settings.issues_dir, DeskStore(db, clock),
        ),
        campaigns=CampaignsApi(campaign_store, CampaignPages(db)),
        issues=IssuesApi(settings.issues_dir, settings.base_url, campaign_store),
        base_url=settings.base_url,
        embed_origins=tuple(settings.embed_origins),
        rate_limit=settings.api_rate_limit,
    )


def webhooks(
    settings: Settings, db: Database, clock: Callable[[], dt.datetime] = utc_now
) -> Webhooks:
    """Delivers the webhook outbox with the configured guard, timeout and back-off."""
    return Webhooks(
        WebhookStore(db, clock),
        HttpPoster(settings.webhooks_allow_private, settings.webhooks_timeout),
        clock, first_retry=settings.webhooks_retry_seconds, timeout=settings.webhooks_timeout,
    )
