"""The web app: routes for readers, the archive and the SES webhook, assembled in one place.

Pages are server-rendered Jinja templates (``templates/web``) that work without
JavaScript; the README's "Web app" section lists the routes and their behaviour.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from newsletter import wiring, wiring_api
from newsletter.clock import utc_now
from newsletter.errors import DatabaseError
from newsletter.feedback.feed import Heartbeat, feed_name
from newsletter.feedback.fetch import MAX_BODY as WEBHOOK_BODY_LIMIT
from newsletter.feedback.sns import Fetcher
from newsletter.settings import Settings
from newsletter.store.actions import ReaderActions
from newsletter.store.campaigns import CampaignStore
from newsletter.store.db import Database
from newsletter.store.editions import PreferenceStore
from newsletter.store.feeds import FeedStore
from newsletter.store.hygiene import HygieneStore
from newsletter.store.papers import PaperStore
from newsletter.store.signup_queue import SignupQueueStore
from newsletter.store.subscribers import SubscriberStore
from newsletter.tokens import Purpose
from newsletter.transports import Transport
from newsletter.web.admin.parts import Desk
from newsletter.web.admin.routes import desk_app
from newsletter.web.api_routes import api_app
from newsletter.web.archive_routes import ArchiveRoutes
from newsletter.web.base_path import BasePath
from newsletter.web.clients import ProxyHeaders, parse_networks
from newsletter.web.delivery import DeliveryRoutes
from newsletter.web.keep import KeepRoutes
from newsletter.web.limits import BodyLimit
from newsletter.web.pages import Pages
from newsletter.web.paper_feedback import FeedbackRoutes
from newsletter.web.paper_routes import PaperRoutes
from newsletter.web.ratelimit import RateLimiter
from newsletter.web.sample_links import Endpoint, answering_test_links
from newsletter.web.security import SecurityHeaders
from newsletter.web.subscription import RETRY_AFTER, SubscriptionRoutes
from newsletter.web.webhook import ses_webhook
from newsletter.web.weekly_archive import WeeklyArchiveRoutes

log = logging.getLogger(__name__)

SUBSCRIBE_LIMIT = 10  # POSTs per client address ...
SUBSCRIBE_WINDOW = 600.0  # ... per this many seconds
# Seconds a request waits for a locked or unreachable database before answering 503.
DATABASE_TIMEOUT = 3.0
WEBHOOK_BEAT = 2.0  # seconds between the webhook's event-feed heartbeats
# Desk forms carry whole issues and CSV files; only signed-in editors get past the guard.
DESK_BODY_LIMIT = 8 * 1024 * 1024


async def home(request: Request) -> Response:
    return RedirectResponse(f"{request.scope.get('root_path', '')}/subscribe", status_code=303)


async def issues_index(request: Request) -> Response:
    """``/issues/`` has no page of its own: the list of issues is the archive."""
    return RedirectResponse(f"{request.scope.get('root_path', '')}/archive/", status_code=303)


def create_app(
    settings: Settings,
    *,
    db: Database | None = None,
    transport: Transport | None = None,
    clock: Callable[[], dt.datetime] = utc_now,
    limiter: RateLimiter | None = None,
    cert_fetcher: Fetcher | None = None,
) -> Starlette:
    """The web app. Opens the database from ``settings`` unless a ``db`` is given.

    Raises :class:`ConfigurationError` for an unsafe secret key and ``SchemaOutOfDateError``
    when the database needs ``newsletter db upgrade``.
    """
    secret = settings.signing_key()  # refuse an unsafe key before opening anything
    owned = db is None
    if db is None:
        db = wiring.open_database(
            settings, timeout=DATABASE_TIMEOUT, lock_timeout=DATABASE_TIMEOUT
        )
    store = SubscriberStore(db, clock=clock)
    site = wiring.site_config(settings)
    pages = Pages(site.templates_dir, settings.base_path())
    if limiter is None:
        limiter = RateLimiter(SUBSCRIBE_LIMIT, SUBSCRIBE_WINDOW)
    archive = ArchiveRoutes(site, CampaignStore(db), pages, clock)
    subscriptions = wiring.subscriptions(settings, store, transport, clock,
                                         ReaderActions(db, clock))
    readers = SubscriptionRoutes(
        archive.archive.reader_categories, subscriptions, pages, limiter,
        queue=SignupQueueStore(db, clock), slot=settings.signup_slot_ms / 1000,
        welcome=wiring_api.welcomes(settings, db, transport, clock).send,  # issue 22
    )
    # Issue 21: the reader's frequency, paper limit and follows.
    delivery = DeliveryRoutes(subscriptions, PreferenceStore(db, clock), pages, clock)
    votes = FeedbackRoutes(wiring.paper_feedback(settings, db, clock), pages)
    keeping = KeepRoutes(HygieneStore(db, clock), pages, secret, clock,
                         settings.verification_keys())

    # Issue 25: while the webhook runs, in-doubt deliveries may be decided by its events.
    # Its watermark is "now" at each beat, so it beats often: a send resumed seconds after
    # a crash can then settle the messages that were in flight.
    feed = Heartbeat(FeedStore(db, clock), feed_name("webhook"), durable=False, clock=clock,
                     interval=WEBHOOK_BEAT) if settings.sns_topic_arns else None
    papers = PaperRoutes(archive, PaperStore(db))  # issue 20: paper pages and search
    weekly = WeeklyArchiveRoutes(site, CampaignStore(db), pages, clock)  # issue 21

    @asynccontextmanager
    async def lifespan(app: Starlette) -> Any:
        readers.signups.start()
        papers.start()
        if feed is not None:
            feed.start()
        yield
        if feed is not None:
            feed.stop()
        papers.stop()
        readers.signups.stop()
        if owned:
            db.close()

    # Links in `send-test` messages answer "this is a test message", not "not valid".
    def unsubscribe(endpoint: Endpoint) -> Endpoint:
        return answering_test_links(endpoint, Purpose.UNSUBSCRIBE, secret, pages)

    def preferences(endpoint: Endpoint) -> Endpoint:
        return answering_test_links(endpoint, Purpose.PREFERENCES, secret, pages)

    async def not_found(request: Request, exc: Exception) -> Response:
        return pages.message(request, "not_found", 404)

    async def database_down(request: Request, exc: Exception) -> Response:
        # Any page that needs the database (the archive and feeds read the campaigns):
        # 503 with Retry-After, so that browsers, feed readers and crawlers come back.
        log.warning("%s %s: %s", request.method, request.url.path, exc)
        return pages.message(request, "unavailable", 503, {"Retry-After": RETRY_AFTER})

    async def healthz(request: Request) -> Response:
        """ok when the database answers; 503 when it does not (a load balancer's check)."""
        try:
            await run_in_threadpool(db.ping)
        except DatabaseError:
            return PlainTextResponse("database unavailable", status_code=503,
                                     headers={"Retry-After": RETRY_AFTER})
        return PlainTextResponse("ok")

    static = site.templates_dir / "web" / "static"
    routes: list[BaseRoute] = [Mount("/admin", app=desk_app(Desk(
        sign_in=wiring.desk_sign_in(settings, db, transport, clock),
        pages=pages,
        campaigns=wiring.campaigns_on(settings, db, transport, clock=clock),
        subscribers=store,
        site=site,
        clock=clock,
        workbench=wiring.workbench(settings),
        arxiv_api_url=settings.arxiv_api_url,
        papers=papers.index,
        embed_origins=tuple(settings.embed_origins),  # issue 22
        webhooks_allow_private=settings.webhooks_allow_private,
    )))]
    # issue 22: the REST API and sign-up from the operator's own site.
    routes.append(Mount("/api/v1", app=api_app(
        wiring_api.api_services(settings, db, transport, clock), readers)))
    if settings.sns_topic_arns:
        fetch = cert_fetcher or wiring.cert_fetcher(settings)
        webhook = ses_webhook(wiring.feedback(settings, db, fetch, clock), fetch)
        routes.append(Route("/webhooks/ses", webhook, methods=["POST"]))
    routes += [
        Route("/subscribe", readers.subscribe_get, methods=["GET"]),
        Route("/subscribe", readers.subscribe_post, methods=["POST"]),
        Route("/confirm/{token}", readers.confirm_get, methods=["GET"]),
        Route("/confirm/{token}", readers.confirm_post, methods=["POST"]),
        Route("/unsubscribe/{token}", unsubscribe(readers.unsubscribe_get), methods=["GET"]),
        Route("/unsubscribe/{token}", unsubscribe(readers.unsubscribe_post), methods=["POST"]),
        Route("/preferences/{token}", preferences(readers.preferences_get), methods=["GET"]),
        Route("/preferences/{token}", preferences(readers.preferences_post), methods=["POST"]),
        Route("/keep/{token}", keeping.keep_get, methods=["GET"]),
        Route("/keep/{token}", keeping.keep_post, methods=["POST"]),
        Route("/preferences/{token}/delivery", preferences(delivery.get), methods=["GET"]),
        Route("/preferences/{token}/delivery", preferences(delivery.post), methods=["POST"]),
        Route("/feedback/{token}/{date}", preferences(votes.issue_page), methods=["GET"]),
        Route("/feedback/{token}/{date}/follow/{paper:path}", preferences(votes.follow),
              methods=["POST"]),
        Route("/feedback/{token}/{date}/{kind}/{paper:path}", preferences(votes.get),
              methods=["GET"]),
        Route("/feedback/{token}/{date}/{kind}/{paper:path}", preferences(votes.post),
              methods=["POST"]),
        Route("/archive/", archive.archive_page, methods=["GET"]),
        Route("/archive/page/{number}/", archive.archive_page, methods=["GET"]),
        Route("/issues/", issues_index, methods=["GET"]),
        Route("/issues", issues_index, methods=["GET"]),
        Route("/issues/{date}", archive.issue, methods=["GET"]),
        Route("/feed.xml", archive.feed, methods=["GET"]),
        Route("/weekly/", weekly.archive_page, methods=["GET"]),
        Route("/weekly/page/{number}/", weekly.archive_page, methods=["GET"]),
        Route("/weekly/feed.xml", weekly.feed, methods=["GET"]),
        Route("/weekly/{date}", weekly.issue, methods=["GET"]),
        Route("/feeds/{code}.xml", archive.category_feed, methods=["GET"]),
        Route("/papers/{rest:path}", papers.paper, methods=["GET"]),
        Route("/search", papers.search, methods=["GET"]),
        Mount("/static", StaticFiles(directory=static), name="static"),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/", home, methods=["GET"]),
    ]
    app = Starlette(routes=routes, lifespan=lifespan,
                    exception_handlers={404: not_found, DatabaseError: database_down})
    app.state.signups = readers.signups  # tests wait on it: signups.wait_idle()
    # Every body is capped while it streams in; the 413 carries the security headers too.
    app.add_middleware(BodyLimit, per_path={"/webhooks/": WEBHOOK_BODY_LIMIT,
                                            "/admin/": DESK_BODY_LIMIT})
    app.add_middleware(SecurityHeaders)
    app.add_middleware(BasePath, prefix=settings.base_path())
    # Outermost: every layer inside sees the client a trusted proxy names.
    app.add_middleware(ProxyHeaders, trusted=parse_networks(settings.trusted_proxies))
    return app
