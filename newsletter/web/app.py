"""The web app: routes for readers, the archive and the SES webhook, assembled in one place.

Pages are server-rendered Jinja templates (``templates/web``) that work without
JavaScript; the README's "Web app" section lists the routes and their behaviour.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import Engine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from newsletter import wiring
from newsletter.feedback.sns import Fetcher
from newsletter.rendering.renderer import DEFAULT_TEMPLATES
from newsletter.settings import Settings
from newsletter.store.db import open_database
from newsletter.store.subscribers import SubscriberStore
from newsletter.store.tables import utc_now
from newsletter.transports import Transport
from newsletter.web.archive import ArchiveRoutes
from newsletter.web.pages import Pages
from newsletter.web.ratelimit import RateLimiter
from newsletter.web.security import SecurityHeaders
from newsletter.web.subscription import SubscriptionRoutes
from newsletter.web.webhook import ses_webhook

SUBSCRIBE_LIMIT = 10  # POSTs per client address ...
SUBSCRIBE_WINDOW = 600.0  # ... per this many seconds
ONE_CLICK = "List-Unsubscribe=One-Click"


async def home(request: Request) -> Response:
    return RedirectResponse("/subscribe", status_code=303)


async def healthz(request: Request) -> Response:
    return PlainTextResponse("ok")


def create_app(
    settings: Settings,
    *,
    engine: Engine | None = None,
    transport: Transport | None = None,
    clock: Callable[[], dt.datetime] = utc_now,
    limiter: RateLimiter | None = None,
    cert_fetcher: Fetcher | None = None,
) -> Starlette:
    """The web app. Opens the database from ``settings`` unless an ``engine`` is given.

    Raises :class:`ConfigurationError` for an unsafe secret key and ``SchemaOutOfDateError``
    when the database needs ``newsletter db upgrade``.
    """
    settings.signing_key()  # refuse an unsafe key before opening anything
    owned = engine is None
    engine = engine or open_database(settings.database_url)
    store = SubscriberStore(engine, clock=clock)
    templates_dir = settings.templates_dir or DEFAULT_TEMPLATES
    pages = Pages(templates_dir)
    if limiter is None:
        limiter = RateLimiter(SUBSCRIBE_LIMIT, SUBSCRIBE_WINDOW)
    readers = SubscriptionRoutes(
        settings, wiring.subscriptions(settings, store, transport, clock), pages, limiter
    )
    archive = ArchiveRoutes(settings, pages)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> Any:
        yield
        if owned:
            engine.dispose()

    async def not_found(request: Request, exc: Exception) -> Response:
        return pages.message(request, "not_found", 404)

    routes: list[BaseRoute] = []
    if settings.sns_topic_arns:
        webhook = ses_webhook(settings, engine, cert_fetcher, clock)
        routes.append(Route("/webhooks/ses", webhook, methods=["POST"]))
    routes += [
        Route("/subscribe", readers.subscribe_get, methods=["GET"]),
        Route("/subscribe", readers.subscribe_post, methods=["POST"]),
        Route("/confirm/{token}", readers.confirm, methods=["GET"]),
        Route("/unsubscribe/{token}", readers.unsubscribe_get, methods=["GET"]),
        Route("/unsubscribe/{token}", readers.unsubscribe_post, methods=["POST"]),
        Route("/preferences/{token}", readers.preferences_get, methods=["GET"]),
        Route("/preferences/{token}", readers.preferences_post, methods=["POST"]),
        Route("/issues/{date}", archive.issue, methods=["GET"]),
        Mount("/static", StaticFiles(directory=templates_dir / "web" / "static"), name="static"),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/", home, methods=["GET"]),
    ]
    app = Starlette(routes=routes, exception_handlers={404: not_found}, lifespan=lifespan)
    app.add_middleware(SecurityHeaders)
    return app
