"""The composition root: every part built from ``Settings``, in one place, once.

The entry points (``cli/``, the web app factory) read ``Settings`` and ask here for what
they need; everything below receives values and parts, never ``Settings`` (as listmonk's
``cmd/init.go``). A new setting becomes behaviour here or nowhere.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from newsletter.aws import AwsConfig, ses_client, sqs_client
from newsletter.clock import utc_now
from newsletter.editing.preflight import PreflightConfig
from newsletter.errors import ConfigurationError
from newsletter.mail.message import Sender
from newsletter.model.site import SiteConfig, site_name
from newsletter.rendering.renderer import DEFAULT_TEMPLATES, Renderer
from newsletter.sending.campaign import Campaigns
from newsletter.sending.config import SendConfig
from newsletter.settings import Settings
from newsletter.store.campaigns import CampaignStore
from newsletter.store.db import Database
from newsletter.store.db import open_database as open_store_database
from newsletter.store.events import EventStore, HealthLimits
from newsletter.store.workers import WorkerRegistry
from newsletter.transports import MAX_CONCURRENCY, Transport
from newsletter.transports.outbox import OutboxTransport

if TYPE_CHECKING:  # the rest where it is built: `newsletter send` loads the send path only
    from newsletter.desk.signin import SignIn
    from newsletter.editing.build import Workbench
    from newsletter.feedback.apply import Feedback
    from newsletter.feedback.sns import Fetcher
    from newsletter.feedback.sqs import SqsQueue
    from newsletter.reports.hygiene import Hygiene, Rules
    from newsletter.store.desk import DeskStore
    from newsletter.store.prune import Pruned
    from newsletter.subscribers.paper_feedback import PaperFeedback
    from newsletter.subscribers.workflow import ActionLog, Store, Subscriptions

# -- the database -----------------------------------------------------------------------


def open_database(
    settings: Settings,
    *,
    timeout: float = 30.0,
    lock_timeout: float | None = None,
    create: bool = True,
) -> Database:
    """The configured database, upgraded or checked; the caller closes it (the web app,
    at shutdown). Raises as :func:`database` does."""
    return open_store_database(settings.database_url, timeout=timeout,
                               lock_timeout=lock_timeout, create=create)


@contextmanager
def database(
    settings: Settings,
    *,
    timeout: float = 30.0,
    lock_timeout: float | None = None,
    create: bool = True,
) -> Iterator[Database]:
    """The configured database, upgraded or checked (see ``open_database``), closed after.

    ``create=False`` is for commands that only read or send: a missing SQLite file is then
    a ``ConfigurationError`` naming the setting, not a new empty list. Raises
    ``SchemaOutOfDateError`` when a PostgreSQL schema needs ``newsletter db upgrade`` and
    ``DatabaseError`` when it cannot be reached; the stores built on it raise only
    ``StoreError``s.
    """
    db = open_database(settings, timeout=timeout, lock_timeout=lock_timeout, create=create)
    try:
        yield db
    finally:
        db.close()


# -- rendering and mail -----------------------------------------------------------------


def templates_dir(settings: Settings) -> Path:
    """The templates in use: ``NEWSLETTER_TEMPLATES_DIR``, else the ones shipped with us."""
    return settings.templates_dir or DEFAULT_TEMPLATES


def renderer(settings: Settings) -> Renderer:
    """The renderer over the configured templates and base URL."""
    return Renderer(
        settings.base_url, templates_dir(settings), title_en=settings.title_en,
        sender_name=site_name(settings.from_address), postal_address=settings.postal_address,
    )


def sender(settings: Settings) -> Sender:
    """The From, Reply-To, List-Id and unsubscribe addresses every message carries."""
    return Sender(
        from_address=settings.from_address,
        base_url=settings.base_url,
        list_id=settings.list_id,
        reply_to=settings.reply_to,
        unsubscribe_mailto=settings.unsubscribe_mailto,
    )


def site_config(settings: Settings) -> SiteConfig:
    """What the archive, the feeds and the static site show, and from where."""
    return SiteConfig(
        issues_dir=settings.issues_dir,
        templates_dir=templates_dir(settings),
        base_url=settings.base_url,
        name=site_name(settings.from_address),
        timezone=settings.timezone,
        archive_unsent=settings.archive_unsent,
    )


# -- AWS and the transport --------------------------------------------------------------


def aws_config(settings: Settings) -> AwsConfig:
    """The region and loopback endpoints every boto3 client of ours is built with."""
    return AwsConfig(settings.ses_region, settings.ses_endpoint_url, settings.sqs_endpoint_url)


def transport(settings: Settings) -> Transport:
    """The transport the settings choose (``NEWSLETTER_TRANSPORT``)."""
    if settings.chosen_transport() == "ses":
        # boto3 and the SES transport only when they are used: `newsletter --help` and the
        # outbox stay fast.
        from newsletter.transports.ses import SesTransport
        from newsletter.transports.ses_bulk import SesBulkTransport

        connections = max(MAX_CONCURRENCY, settings.send_concurrency)
        client = ses_client(aws_config(settings), connections, validate=not settings.ses_bulk)
        if settings.ses_bulk:  # issue #23: campaigns in bulk calls unless NEWSLETTER_SES_BULK=false
            return SesBulkTransport(client, settings.ses_configuration_set, unvalidated=True)
        return SesTransport(client, settings.ses_configuration_set)
    return OutboxTransport(settings.outbox_dir)


# -- the editor's tools -----------------------------------------------------------------


def workbench(settings: Settings) -> Workbench:
    """What ``build`` works with; samples are signed with the key, or a throwaway one."""
    from newsletter.editing.build import Workbench
    return Workbench(
        renderer=renderer(settings),
        sender=sender(settings),
        issues_dir=settings.issues_dir,
        checks=preflight_config(settings),
        sample_secret=settings.secret_key.get_secret_value() or "sample-only",
    )


# -- sending ----------------------------------------------------------------------------


def send_config(settings: Settings, *, signing: bool = True) -> SendConfig:
    """The values sending runs on. With ``signing`` the secret key is checked and included
    (``ConfigurationError`` when it is missing or unsafe); ``status`` needs none."""
    return SendConfig(
        issues_dir=settings.issues_dir,
        secret=settings.signing_key() if signing else "",
        max_send_rate=settings.max_send_rate,
        rate_headroom=settings.send_rate_headroom,
        concurrency=settings.send_concurrency,
        in_doubt_policy=settings.chosen_in_doubt_policy(),
        reconcile_after=dt.timedelta(seconds=settings.reconcile_after),
        size_limit_bytes=settings.size_limit_bytes,
        timezone=settings.timezone,
        editors=tuple(settings.editors),
        retry_seconds=settings.send_retry_seconds,
        brake_after=settings.send_brake_after,
    )


def preflight_config(settings: Settings) -> PreflightConfig:
    """What ``check`` and ``send`` judge an issue against."""
    return PreflightConfig(
        base_url=settings.base_url,
        size_limit_bytes=settings.size_limit_bytes,
        size_warn_bytes=settings.size_warn_bytes,
        base_url_warning=settings.base_url_warning(),
        postal_address=settings.postal_address,
    )


@contextmanager
def campaigns(
    settings: Settings, transport_: Transport | None = None, *, signing: bool = True
) -> Iterator[Campaigns]:
    """Sending over the configured database, closed after; ``transport_`` replaces the
    configured transport (tests, benchmarks). Raises as :func:`send_config` and
    :func:`database` do."""
    config = send_config(settings, signing=signing)
    with database(settings, create=False) as db:
        yield campaigns_on(settings, db, transport_, config=config)


def campaigns_on(
    settings: Settings,
    db: Database,
    transport_: Transport | None = None,
    *,
    config: SendConfig | None = None,
    clock: Callable[[], dt.datetime] = utc_now,
) -> Campaigns:
    """Sending over a database the caller holds open (the web app's)."""
    chosen: Callable[[], Transport] = (
        (lambda: transport_) if transport_ is not None
        else functools.cache(lambda: transport(settings))
    )
    return Campaigns(
        config=config or send_config(settings),
        store=CampaignStore(db, clock),
        events=event_store(settings, db, clock),
        workers=WorkerRegistry(db, clock),
        renderer=renderer(settings),
        sender=sender(settings),
        checks=preflight_config(settings),
        transport=chosen,
    )


# -- SES events -------------------------------------------------------------------------


def event_store(
    settings: Settings, db: Database, clock: Callable[[], dt.datetime] = utc_now
) -> EventStore:
    """The event store with the configured health limits."""
    limits = HealthLimits(
        settings.max_bounce_rate, settings.max_complaint_rate, settings.soft_bounce_limit
    )
    return EventStore(db, limits, clock, base_url=settings.base_url)


def cert_fetcher(settings: Settings) -> Fetcher:
    """Fetches SNS signing certificates and subscription confirmations (pinned to AWS)."""
    from newsletter.feedback.fetch import pinned_fetcher
    return pinned_fetcher(settings.sns_cert_host_for_tests)


def feedback(
    settings: Settings,
    db: Database,
    fetch: Fetcher | None = None,
    clock: Callable[[], dt.datetime] = utc_now,
) -> Feedback:
    """The one pipeline SES events go through, from the webhook and from SQS alike.

    Envelopes are verified against ``NEWSLETTER_SNS_TOPIC_ARNS`` when topics are set; with
    none, only raw SES JSON is accepted (from SQS, whose queue policy is then the trust
    boundary).
    """
    from newsletter.feedback.apply import Feedback, SnsVerifier
    verifier = None
    if settings.sns_topic_arns:
        verifier = SnsVerifier(fetch or cert_fetcher(settings), frozenset(settings.sns_topic_arns),
                               settings.sns_cert_host_for_tests, clock)
    return Feedback(event_store(settings, db, clock), verifier)


def sqs_queue(settings: Settings, queue_url: str | None = None) -> SqsQueue:
    """The queue SES events arrive on; ``ConfigurationError`` without a URL."""
    from newsletter.feedback.sqs import SqsQueue
    url = queue_url or settings.sqs_queue_url
    if not url:
        raise ConfigurationError("no SQS queue: pass --queue-url or set NEWSLETTER_SQS_QUEUE_URL")
    return SqsQueue(sqs_client(aws_config(settings), url), url)


# -- the desk ---------------------------------------------------------------------------


def desk_sign_in(
    settings: Settings,
    db: Database,
    chosen_transport: Transport | None = None,
    clock: Callable[[], dt.datetime] = utc_now,
) -> SignIn:
    """The desk's sign-in: links to ``NEWSLETTER_EDITORS`` only, sessions in ``db``.

    Raises :class:`ConfigurationError` when the secret key is unsafe.
    """
    from newsletter.desk.signin import DeskConfig, SignIn
    from newsletter.model.addresses import normalize_email
    from newsletter.store.desk import DeskStore
    editors = frozenset(normalize_email(address) for address in settings.editors)
    config = DeskConfig(editors, settings.base_url, settings.signing_key())
    made: Callable[[], Transport] = (
        (lambda: chosen_transport) if chosen_transport is not None
        else functools.cache(lambda: transport(settings))
    )
    return SignIn(config, DeskStore(db, clock), renderer(settings), sender(settings), made, clock)


def schedules(db: Database, clock: Callable[[], dt.datetime] = utc_now) -> DeskStore:
    """The sends scheduled from the desk (and its audit log), for ``worker`` and
    ``send --today``; ``clock`` decides which are due."""
    from newsletter.store.desk import DeskStore
    return DeskStore(db, clock)


@contextmanager
def scheduled_sending(
    settings: Settings,
    transport_: Transport | None = None,
    *,
    clock: Callable[[], dt.datetime] = utc_now,
) -> Iterator[tuple[Campaigns, DeskStore]]:
    """Sending and the scheduled sends over one database, closed after (``worker``,
    ``send --today``). Raises as :func:`campaigns` does."""
    config = send_config(settings)
    with database(settings, create=False) as db:
        yield campaigns_on(settings, db, transport_, config=config), schedules(db, clock)


# -- subscribers ------------------------------------------------------------------------


def subscriptions(
    settings: Settings,
    store: Store,
    chosen_transport: Transport | None = None,
    clock: Callable[[], dt.datetime] = utc_now,
    actions: ActionLog | None = None,
) -> Subscriptions:
    """The workflow as the settings configure it (transport, sender, key, base URL).

    Raises :class:`ConfigurationError` when the secret key is unsafe.
    """
    from newsletter.subscribers.workflow import ConfirmationMailer, Subscriptions
    return Subscriptions(
        store=store,
        transport=chosen_transport or transport(settings),
        mailer=ConfirmationMailer(renderer(settings), sender(settings)),
        secret=settings.signing_key(),
        fallbacks=settings.verification_keys(),
        base_url=settings.base_url,
        clock=clock,
        actions=actions,
        welcome=settings.welcome_email,
    )


# -- issue 17: list hygiene ------------------------------------------------------------


def hygiene(
    settings: Settings, db: Database, rules: Rules, clock: Callable[[], dt.datetime] = utc_now,
    chosen_transport: Transport | None = None, *, sending: bool = False,
) -> Hygiene:
    """List hygiene over ``db``; with ``sending``, able to mail re-engagement emails."""
    from newsletter.reports.hygiene import Hygiene, KeepMailer
    from newsletter.store.hygiene import HygieneStore
    from newsletter.store.subscribers import SubscriberStore
    people = HygieneStore(db, clock), SubscriberStore(db, clock)
    if not sending:  # a dry run: no key, no renderer, no transport needed
        return Hygiene(*people, rules, clock)
    mailer = KeepMailer(renderer(settings), sender(settings), settings.signing_key(),
                        settings.base_url, rules.sunset_issues, rules.grace_days)
    return Hygiene(*people, rules, clock, mailer, chosen_transport or transport(settings))


def prune_events(settings: Settings, clock: Callable[[], dt.datetime] = utc_now) -> Pruned:
    """SES event rows past ``NEWSLETTER_EVENT_RETENTION_DAYS`` deleted in short batches,
    bounces and complaints kept (``worker`` calls this once an hour)."""
    from newsletter.store.prune import EventPruner
    before = clock() - dt.timedelta(days=settings.event_retention_days)
    with database(settings, create=False) as db:
        return EventPruner(db).prune(before, pause=0.05)
# -- issue 21: each reader's own newsletter ----------------------------------------------


def paper_feedback(
    settings: Settings, db: Database, clock: Callable[[], dt.datetime] = utc_now
) -> PaperFeedback:
    """The "More like this" / "Not for me" links' service over ``db``.

    Raises :class:`ConfigurationError` when the secret key is unsafe.
    """
    from newsletter.store.editions import PreferenceStore
    from newsletter.store.paper_feedback import PaperFeedbackStore
    from newsletter.store.subscribers import SubscriberStore
    from newsletter.subscribers.paper_feedback import PaperFeedback
    return PaperFeedback(
        settings.signing_key(), settings.verification_keys(), SubscriberStore(db, clock),
        CampaignStore(db, clock), PaperFeedbackStore(db, clock), PreferenceStore(db, clock),
        clock,
    )
