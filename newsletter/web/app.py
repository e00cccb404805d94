"""The subscription web app: thin Starlette routes over ``subscriptions.Subscriptions``.

Pages are server-rendered Jinja templates (``templates/web``) that work without
JavaScript. Every route turns the request into one workflow call and the result into a
page; the README's "Web app" section lists the routes and their behaviour.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import secrets
from collections.abc import Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
from sqlalchemy import Engine
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from newsletter.errors import (
    FormError,
    IssueValidationError,
    NewsletterError,
    SuppressedAddressError,
    TokenError,
    UnknownSubscriberError,
)
from newsletter.feedback.sns import Fetcher
from newsletter.issues.model import CategoryName, load_issue
from newsletter.rendering.renderer import DEFAULT_TEMPLATES, Renderer, Variant
from newsletter.settings import Settings
from newsletter.store.db import open_database
from newsletter.store.subscribers import Subscriber, SubscriberStore
from newsletter.store.tables import utc_now
from newsletter.subscribers.workflow import (
    Choices,
    Subscriptions,
    available_categories,
    choices_of,
    parse_address,
    parse_choices,
    subscriptions_from,
)
from newsletter.tokens import Purpose, placeholder
from newsletter.transports import Transport
from newsletter.web.ratelimit import RateLimiter
from newsletter.web.webhook import fetch_pinned, ses_webhook

log = logging.getLogger(__name__)

SUBSCRIBE_LIMIT = 10  # POSTs per client address ...
SUBSCRIBE_WINDOW = 600.0  # ... per this many seconds
FORM_COOKIE = "nl_form"
ONE_CLICK = "List-Unsubscribe=One-Click"
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_FORM_TOKEN = re.compile(r"[0-9a-f]{32}")
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; object-src 'none'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}
# Archived issues are email HTML: inline styles, no scripts, nothing to submit.
ARCHIVE_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src https: data:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
# Pages reached through a token must not be cached by anything between us and the reader.
PRIVATE = {"Cache-Control": "no-store"}


class SecurityHeaders:
    """ASGI middleware adding :data:`PAGE_HEADERS` to every response that lacks them."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                for name, value in PAGE_HEADERS.items():
                    if name.lower().encode() not in present:
                        headers.append((name.lower().encode(), value.encode()))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


@dataclass(frozen=True)
class Page:
    """A message page: a heading and a paragraph in Chinese and English, and a link."""

    title: str
    heading_zh: str
    heading_en: str
    text_zh: str = ""
    text_en: str = ""
    link: tuple[str, str] | None = ("/subscribe", "订阅 · Subscribe")
    alert: bool = False


SENT = Page(
    "请查收邮件 Check your inbox",
    "请查收邮件",
    "Check your inbox",
    "如果这个地址可以订阅,我们刚刚给它发了一封确认邮件。请点击邮件里的链接完成订阅。"
    "几分钟内没有收到的话,请检查垃圾邮件文件夹。",
    "If this address can be subscribed, we have just sent it an email. Follow the link in it "
    "to confirm. If nothing arrives within a few minutes, look in your spam folder.",
    link=None,
)
LIMITED = Page(
    "请稍后再试 Too many requests",
    "请稍后再试",
    "Too many requests",
    "这个网络发出的订阅请求太多了,请过几分钟再试。",
    "Too many sign-ups came from your network. Please try again in a few minutes.",
    alert=True,
)
NOT_FOUND = Page(
    "未找到 Not found", "未找到", "Not found", "没有这个页面。", "There is no such page."
)


class Site:
    """The routes, sharing one workflow, one template environment and one rate limiter."""

    def __init__(
        self,
        settings: Settings,
        subscriptions: Subscriptions,
        limiter: RateLimiter,
    ) -> None:
        self.settings = settings
        self.subs = subscriptions
        self.limiter = limiter
        self.templates_dir = settings.templates_dir or DEFAULT_TEMPLATES
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(self.templates_dir),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
        )

    # -- helpers ----------------------------------------------------------------------------

    def html(
        self, name: str, context: Mapping[str, Any], status: int = 200, **kw: Any
    ) -> HTMLResponse:
        body = self.env.get_template(f"web/{name}.html.j2").render(context)
        return HTMLResponse(body, status_code=status, **kw)

    def message(
        self, page: Page, status: int = 200, headers: Mapping[str, str] | None = None,
        background: BackgroundTask | None = None,
    ) -> HTMLResponse:
        context = {
            "page_title": page.title, "heading_zh": page.heading_zh, "heading_en": page.heading_en,
            "text_zh": page.text_zh, "text_en": page.text_en, "link": page.link,
            "alert": page.alert,
        }
        return self.html("message", context, status, headers=headers, background=background)

    def bad_link(self, error: NewsletterError) -> HTMLResponse:
        """The 400 page for an invalid, expired or refused link, with a way forward."""
        page = Page(
            "链接无效 Invalid link",
            "链接无效或已过期",
            "This link is not valid",
            "请重新订阅,我们会发给你一个新的链接。",
            f"{str(error).capitalize()}. Subscribe again to get a new link.",
            alert=True,
        )
        return self.message(page, 400, PRIVATE)

    def categories(self) -> dict[str, CategoryName]:
        return available_categories(self.settings.issues_dir)

    @staticmethod
    def form_token(request: Request) -> str:
        existing = request.cookies.get(FORM_COOKIE, "")
        return existing if _FORM_TOKEN.fullmatch(existing) else secrets.token_hex(16)

    @staticmethod
    def with_form_cookie(response: Response, request: Request, token: str) -> Response:
        # Double-submit: the form carries the same random value as this cookie; another
        # site can make a browser post, but cannot read or set our cookie to match.
        response.set_cookie(
            FORM_COOKIE, token, httponly=True, samesite="strict",
            secure=request.url.scheme == "https", path="/",
        )
        return response

    @staticmethod
    def form_ok(request: Request, form: FormData) -> bool:
        cookie = request.cookies.get(FORM_COOKIE, "")
        sent = form.get("form_token", "")
        return (
            isinstance(sent, str) and bool(_FORM_TOKEN.fullmatch(cookie))
            and secrets.compare_digest(cookie, sent)
        )

    def subscribe_form(
        self, request: Request, *, email: str = "", chosen: set[str] | None = None,
        language: str = "both", errors: Mapping[str, str] | None = None, status: int = 200,
    ) -> Response:
        categories = self.categories()
        token = self.form_token(request)
        context = {
            "page_title": "订阅 Subscribe", "form_token": token, "email": email,
            "categories": categories,
            "chosen": set(categories) if chosen is None else chosen,
            "language": language, "errors": dict(errors or {}),
        }
        return self.with_form_cookie(self.html("subscribe", context, status), request, token)

    def preferences_page(
        self, request: Request, subscriber: Subscriber, *, chosen: set[str] | None = None,
        language: str | None = None, errors: Mapping[str, str] | None = None,
        saved: bool = False, status: int = 200,
    ) -> Response:
        categories = self.categories()
        token = self.form_token(request)
        context = {
            "page_title": "订阅设置 Preferences", "form_token": token,
            "action": request.url.path, "masked_email": mask(subscriber.email),
            "status": subscriber.status, "categories": categories,
            "chosen": choices_of(subscriber, categories) if chosen is None else chosen,
            "language": language or subscriber.language, "errors": dict(errors or {}),
            "saved": saved,
            "unsubscribe_url": self.subs.link(Purpose.UNSUBSCRIBE, subscriber.id),
        }
        response = self.html("preferences", context, status, headers=PRIVATE)
        return self.with_form_cookie(response, request, token)

    # -- routes -----------------------------------------------------------------------------

    async def subscribe(self, request: Request) -> Response:
        if request.method != "POST":  # GET, and the HEAD Starlette adds to GET routes
            return self.subscribe_form(request)
        client = request.client.host if request.client else "unknown"
        if not self.limiter.hit(client):
            retry = str(max(1, self.limiter.retry_after(client)))
            return self.message(LIMITED, 429, {"Retry-After": retry})
        form = await request.form()
        email = str(form.get("email", ""))[:320]
        chosen = {str(c) for c in form.getlist("categories")}
        language = str(form.get("language", ""))
        if not self.form_ok(request, form):
            return self.subscribe_form(
                request, email=email, chosen=chosen, language=language, status=400,
                errors={"form": "这个表单已过期,请再提交一次。 This form has expired; "
                        "please submit it again."},
            )
        if form.get("website"):
            # The honeypot was filled in: a bot. Pretend it worked and do nothing.
            return self.message(SENT)
        errors: dict[str, str] = {}
        address = ""
        try:
            address = parse_address(email)
        except FormError as err:
            errors[err.field] = str(err)
        try:
            choices = parse_choices(chosen, language, self.categories())
        except FormError as err:
            errors[err.field] = str(err)
        if errors:
            return self.subscribe_form(
                request, email=email, chosen=chosen, language=language, errors=errors,
                status=400,
            )
        # The work happens after the response is sent: the page and its timing are the
        # same whether the address is new, pending, active or suppressed.
        return self.message(SENT, background=BackgroundTask(self._subscribe, address, choices))

    def _subscribe(self, address: str, choices: Choices) -> None:
        try:
            outcome = self.subs.subscribe(address, choices)
        except NewsletterError as err:
            log.warning("web sign-up failed: %s: %s", type(err).__name__, err)
            return
        log.info("web sign-up: %s", outcome.value)

    async def confirm(self, request: Request) -> Response:
        try:
            subscriber = await run_in_threadpool(self.subs.confirm, request.path_params["token"])
        except (TokenError, UnknownSubscriberError, SuppressedAddressError) as err:
            return self.bad_link(err)
        page = Page(
            "订阅成功 Subscribed",
            "订阅成功",
            "You are subscribed",
            "从下一期开始你会收到每日论文速递。",
            "The daily paper digest will reach you from the next issue on.",
            link=(self.subs.link(Purpose.PREFERENCES, subscriber.id), "订阅设置 · Preferences"),
        )
        return self.message(page, headers=PRIVATE)

    async def unsubscribe(self, request: Request) -> Response:
        token = request.path_params["token"]
        if request.method != "POST":  # GET, and the HEAD Starlette adds to GET routes
            # Only a page with a button: mail scanners and link previews follow GETs.
            try:
                subscriber = await run_in_threadpool(self.subs.unsubscribe_target, token)
            except TokenError as err:
                return self.bad_link(err)
            preferences = (
                self.subs.link(Purpose.PREFERENCES, subscriber.id) if subscriber else None
            )
            context = {
                "page_title": "退订 Unsubscribe", "action": request.url.path,
                "preferences_url": preferences,
            }
            return self.html("unsubscribe", context, headers=PRIVATE)
        # No form token here: the signed token in the path is the authority, and RFC 8058
        # one-click posts come from mail providers without cookies.
        form = await request.form()
        one_click = form.get("List-Unsubscribe") == "One-Click"
        reason = "one-click (RFC 8058)" if one_click else "unsubscribe page"
        try:
            await run_in_threadpool(self.subs.unsubscribe, token, reason)
        except TokenError as err:
            return self.bad_link(err)
        page = Page(
            "已退订 Unsubscribed",
            "已退订",
            "You are unsubscribed",
            "你不会再收到每日论文速递。",
            "You will not receive the daily paper digest any more.",
            link=("/subscribe", "重新订阅 · Subscribe again"),
        )
        return self.message(page, headers=PRIVATE)

    async def preferences(self, request: Request) -> Response:
        token = request.path_params["token"]
        try:
            subscriber = await run_in_threadpool(self.subs.preferences, token)
        except (TokenError, UnknownSubscriberError) as err:
            return self.bad_link(err)
        if request.method != "POST":  # GET, and the HEAD Starlette adds to GET routes
            return self.preferences_page(request, subscriber)
        form = await request.form()
        chosen = {str(c) for c in form.getlist("categories")}
        language = str(form.get("language", ""))
        if not self.form_ok(request, form):
            return self.preferences_page(
                request, subscriber, chosen=chosen, language=language, status=400,
                errors={"form": "这个表单已过期,请再保存一次。 This form has expired; "
                        "please save again."},
            )
        try:
            choices = parse_choices(chosen, language, self.categories())
        except FormError as err:
            return self.preferences_page(
                request, subscriber, chosen=chosen, language=language,
                errors={err.field: str(err)}, status=400,
            )
        updated = await run_in_threadpool(self.subs.update_preferences, token, choices)
        return self.preferences_page(request, updated, saved=True)

    async def archive(self, request: Request) -> Response:
        date = request.path_params["date"]
        path = self.archive_path(date)
        if path is None:
            return self.message(NOT_FOUND, 404)
        try:
            html = await run_in_threadpool(
                _archive_html, path, path.stat().st_mtime_ns, self.settings.base_url,
                self.settings.templates_dir,
            )
        except (IssueValidationError, OSError) as err:
            log.warning("archive page for %s cannot be rendered: %s", date, err)
            return self.message(NOT_FOUND, 404)
        return HTMLResponse(html, headers={"Content-Security-Policy": ARCHIVE_CSP})

    def archive_path(self, date: str) -> Path | None:
        """The issue file for ``date`` (strictly YYYY-MM-DD, a real date), or None."""
        if not _DATE.fullmatch(date):
            return None
        try:
            dt.date.fromisoformat(date)
        except ValueError:
            return None
        path = self.settings.issues_dir / f"{date}.yaml"
        return path if path.is_file() else None

    async def stylesheet(self, request: Request) -> Response:
        css = (self.templates_dir / "web" / "site.css").read_text("utf-8")
        return Response(css, media_type="text/css", headers={"Cache-Control": "max-age=3600"})

    async def home(self, request: Request) -> Response:
        return RedirectResponse("/subscribe", status_code=303)

    async def healthz(self, request: Request) -> Response:
        return PlainTextResponse("ok")

    async def not_found(self, request: Request, exc: Exception) -> Response:
        return self.message(NOT_FOUND, 404)


def mask(email: str) -> str:
    """``a***@example.org``: enough for readers to recognise their address, no more."""
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"


@lru_cache(maxsize=16)
def _archive_html(path: Path, mtime_ns: int, base_url: str, templates_dir: Path | None) -> str:
    # Rendering takes a while; cached per file version (the mtime is part of the key).
    html = Renderer(base_url, templates_dir).render(load_issue(path), Variant()).html
    # The archive copy belongs to nobody: per-recipient links become a sign-up link.
    base = base_url.rstrip("/")
    for purpose in (Purpose.UNSUBSCRIBE, Purpose.PREFERENCES):
        html = html.replace(f"{base}/{purpose.value}/{placeholder(purpose)}", f"{base}/subscribe")
        html = html.replace(placeholder(purpose), "")
    return html


def create_app(
    settings: Settings,
    *,
    engine: Engine | None = None,
    transport: Transport | None = None,
    clock: Callable[[], dt.datetime] = utc_now,
    limiter: RateLimiter | None = None,
    cert_fetcher: Fetcher = fetch_pinned,
) -> Starlette:
    """The web app. Opens the database from ``settings`` unless an ``engine`` is given.

    Raises :class:`ConfigurationError` for an unsafe secret key and ``SchemaOutOfDateError``
    when the database needs ``newsletter db upgrade``.
    """
    settings.signing_key()  # refuse an unsafe key before opening anything
    owned = engine is None
    engine = engine or open_database(settings.database_url)
    store = SubscriberStore(engine, clock=clock)
    subscriptions = subscriptions_from(settings, store, transport, clock)
    if limiter is None:
        limiter = RateLimiter(SUBSCRIBE_LIMIT, SUBSCRIBE_WINDOW)
    site = Site(settings, subscriptions, limiter)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> Any:
        yield
        if owned:
            engine.dispose()

    routes = []
    if settings.sns_topic_arns:
        webhook = ses_webhook(store, frozenset(settings.sns_topic_arns), cert_fetcher)
        routes.append(Route("/webhooks/ses", webhook, methods=["POST"]))
    app = Starlette(
        routes=[
            *routes,
            Route("/subscribe", site.subscribe, methods=["GET", "POST"]),
            Route("/confirm/{token}", site.confirm, methods=["GET"]),
            Route("/unsubscribe/{token}", site.unsubscribe, methods=["GET", "POST"]),
            Route("/preferences/{token}", site.preferences, methods=["GET", "POST"]),
            Route("/issues/{date}", site.archive, methods=["GET"]),
            Route("/site.css", site.stylesheet, methods=["GET"]),
            Route("/healthz", site.healthz, methods=["GET"]),
            Route("/", site.home, methods=["GET"]),
        ],
        exception_handlers={404: site.not_found},
        lifespan=lifespan,
    )
    app.add_middleware(SecurityHeaders)
    return app
