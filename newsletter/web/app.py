"""The web app: routes for readers, the archive and the SES webhook, assembled in one place.

Pages are server-rendered Jinja templates (``templates/web``) that work without
JavaScript; the README's "Web app" section lists the routes and their behaviour.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from newsletter import wiring
from newsletter.clock import utc_now
from newsletter.feedback.fetch import MAX_BODY as WEBHOOK_BODY_LIMIT
from newsletter.feedback.sns import Fetcher
from newsletter.settings import Settings
from newsletter.store.campaigns import CampaignStore
from newsletter.store.db import Database
from newsletter.store.editions import PreferenceStore
from newsletter.store.subscribers import SubscriberStore
from newsletter.tokens import Purpose
from newsletter.transports import Transport
from newsletter.web.admin.parts import Desk
from newsletter.web.admin.routes import desk_app
from newsletter.web.archive_routes import ArchiveRoutes
from newsletter.web.base_path import BasePath
from newsletter.web.clients import ProxyHeaders, parse_networks
from newsletter.web.delivery import DeliveryRoutes
from newsletter.web.limits import BodyLimit
from newsletter.web.pages import Pages
from newsletter.web.paper_feedback import FeedbackRoutes
from newsletter.web.ratelimit import RateLimiter
from newsletter.web.sample_links import Endpoint, answering_test_links
from newsletter.web.security import SecurityHeaders
from newsletter.web.subscription import SubscriptionRoutes
from newsletter.web.webhook import ses_webhook
from newsletter.web.weekly_archive import WeeklyArchiveRoutes

SUBSCRIBE_LIMIT = 10  # POSTs per client address ...
SUBSCRIBE_WINDOW = 600.0  # ... per this many seconds
# Seconds a request waits for a locked or unreachable database before answering 503.
DATABASE_TIMEOUT = 3.0
# Desk forms carry whole issues and CSV files; only signed-in editors get past the guard.
DESK_BODY_LIMIT = 8 * 1024 * 1024


async def home(request: Request) -> Response:
    return RedirectResponse(f"{request.scope.get('root_path', '')}/subscribe", status_code=303)


async def issues_index(request: Request) -> Response:
    """``/issues/`` has no page of its own: the list of issues is the archive."""
    return RedirectResponse(f"{request.scope.get('root_path', '')}/archive/", status_code=303)


async def healthz(request: Request) -> Response:
    return PlainTextResponse("ok")


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
    subscriptions = wiring.subscriptions(settings, store, transport, clock)
    readers = SubscriptionRoutes(site.issues_dir, subscriptions, pages, limiter)
    # Issue 21: the reader's frequency, paper limit and follows.
    delivery = DeliveryRoutes(subscriptions, PreferenceStore(db, clock), pages, clock)
    votes = FeedbackRoutes(wiring.paper_feedback(settings, db, clock), pages)
    archive = ArchiveRoutes(site, CampaignStore(db), pages, clock)
    weekly = WeeklyArchiveRoutes(site, CampaignStore(db), pages, clock)  # issue 21

    @asynccontextmanager
    async def lifespan(app: Starlette) -> Any:
        readers.signups.start()
        yield
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
    )))]
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
        Route("/archive/page/{number:int}/", archive.archive_page, methods=["GET"]),
        Route("/issues/", issues_index, methods=["GET"]),
        Route("/issues", issues_index, methods=["GET"]),
        Route("/issues/{date}", archive.issue, methods=["GET"]),
        Route("/feed.xml", archive.feed, methods=["GET"]),
        Route("/weekly/", weekly.archive_page, methods=["GET"]),
        Route("/weekly/page/{number:int}/", weekly.archive_page, methods=["GET"]),
        Route("/weekly/feed.xml", weekly.feed, methods=["GET"]),
        Route("/weekly/{date}", weekly.issue, methods=["GET"]),
        Route("/feeds/{code}.xml", archive.category_feed, methods=["GET"]),
        Mount("/static", StaticFiles(directory=static), name="static"),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/", home, methods=["GET"]),
    ]
    app = Starlette(routes=routes, exception_handlers={404: not_found}, lifespan=lifespan)
    app.state.signups = readers.signups  # tests wait on it: signups.wait_idle()
    # Every body is capped while it streams in; the 413 carries the security headers too.
    app.add_middleware(BodyLimit, per_path={"/webhooks/": WEBHOOK_BODY_LIMIT,
                                            "/admin/": DESK_BODY_LIMIT})
    app.add_middleware(SecurityHeaders)
    app.add_middleware(BasePath, prefix=settings.base_path())
    # Outermost: every layer inside sees the client a trusted proxy names.
    app.add_middleware(ProxyHeaders, trusted=parse_networks(settings.trusted_proxies))
    return app
