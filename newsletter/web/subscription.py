"""The reader's routes: sign up, confirm, unsubscribe, preferences. GET and POST apart.

Each handler turns the request into one ``Subscriptions`` call and the result into a
page. Database and file work runs in a thread, never on the event loop.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import TypeVar

from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from newsletter.errors import (
    DatabaseError,
    NewsletterError,
    SuppressedAddressError,
    TokenError,
    UnknownSubscriberError,
)
from newsletter.issues.model import CategoryName
from newsletter.model.subscribers import Subscriber
from newsletter.subscribers.choices import (
    Choices,
    Problem,
    choices_of,
    read_address,
    read_choices,
)
from newsletter.subscribers.workflow import SignupOutcome, Subscriptions
from newsletter.tokens import Purpose
from newsletter.web.clients import rate_key
from newsletter.web.pages import Pages
from newsletter.web.ratelimit import RateLimiter
from newsletter.web.security import PRIVATE, form_ok, form_token, mask, with_form_cookie
from newsletter.web.signups import SLOT, Admission, QueueStore, SignupQueue

log = logging.getLogger(__name__)
T = TypeVar("T")
RETRY_AFTER = "60"  # seconds, on a 503 page when the database could not be used

_EXPIRED_SUBSCRIBE = Problem(
    "form", "这个表单已过期，请再提交一次。", "This form has expired; please submit it again."
)
_EXPIRED_PREFERENCES = Problem(
    "form", "这个表单已过期，请再保存一次。", "This form has expired; please save again."
)


def _problems(*problems: Problem) -> dict[str, Problem]:
    """The form's problems by field, for the templates (each said in Chinese, then English)."""
    return {problem.field: problem for problem in problems}


class SubscriptionRoutes:
    """The routes, sharing one workflow, one set of pages and one rate limiter."""

    def __init__(
        self, categories: Callable[[], Mapping[str, CategoryName]],
        subscriptions: Subscriptions, pages: Pages, limiter: RateLimiter,
        welcome: Callable[[int], object] | None = None,
        queue: QueueStore | None = None, slot: float = SLOT,
    ) -> None:
        self._categories = categories
        # Sends a confirmed reader's queued welcome email after the page is answered.
        self.welcome = welcome
        self.subs = subscriptions
        self.pages = pages
        self.limiter = limiter
        self.signups = SignupQueue(self._subscribe, queue, slot=slot)

    async def categories(self) -> Mapping[str, CategoryName]:
        """The categories readers may choose (those of the published issues)."""
        # Reads issue files (cached by mtime) and the database: off the event loop.
        return await run_in_threadpool(self._categories)

    async def subscribe_form(
        self, request: Request, *, email: str = "", chosen: set[str] | None = None,
        language: str = "both", errors: Mapping[str, Problem] | None = None, status: int = 200,
    ) -> Response:
        categories = await self.categories()
        token = form_token(request)
        context = {
            "page_title": "订阅 Subscribe", "form_token": token, "email": email,
            "categories": categories,
            "chosen": set(categories) if chosen is None else chosen,
            "language": language, "errors": dict(errors or {}),
        }
        response = self.pages.render(request, "subscribe", context, status)
        return with_form_cookie(response, request, token)

    async def preferences_page(
        self, request: Request, subscriber: Subscriber, *, chosen: set[str] | None = None,
        language: str | None = None, errors: Mapping[str, Problem] | None = None,
        saved: bool = False, status: int = 200,
    ) -> Response:
        categories = await self.categories()
        token = form_token(request)
        context = {
            "page_title": "订阅设置 Preferences", "form_token": token,
            "action": request.url.path, "masked_email": mask(subscriber.email),
            "status": subscriber.status, "categories": categories,
            "chosen": choices_of(subscriber, categories) if chosen is None else chosen,
            "language": language or subscriber.language, "errors": dict(errors or {}),
            "saved": saved,
            # Signed when the preferences link was: an unsubscribe from here counts for the
            # issue that link came in.
            "unsubscribe_url": self.subs.link(
                Purpose.UNSUBSCRIBE, subscriber.id,
                self.subs.issued(Purpose.PREFERENCES, request.path_params["token"])),
        }
        response = self.pages.render(request, "preferences", context, status, PRIVATE)
        return with_form_cookie(response, request, token)

    # -- sign-up ---------------------------------------------------------------------------

    async def subscribe_get(self, request: Request) -> Response:
        return await self.subscribe_form(request)

    async def subscribe_post(self, request: Request) -> Response:
        client = rate_key(request.client.host) if request.client else "unknown"
        if not self.limiter.hit(client):
            retry = str(max(1, self.limiter.retry_after(client)))
            return self.pages.message(request, "limited", 429, {"Retry-After": retry})
        form = await request.form()
        email = str(form.get("email", ""))[:320]
        chosen = {str(c) for c in form.getlist("categories")}
        language = str(form.get("language", ""))
        if not form_ok(request, form):
            return await self.subscribe_form(
                request, email=email, chosen=chosen, language=language, status=400,
                errors=_problems(_EXPIRED_SUBSCRIBE),
            )
        if form.get("website"):
            # The honeypot was filled in: a bot. Pretend it worked and do nothing.
            return self.pages.message(request, "sent")
        address = read_address(email)
        choices = read_choices(chosen, language, await self.categories())
        if isinstance(address, Problem) or isinstance(choices, Problem):
            problems = [p for p in (address, choices) if isinstance(p, Problem)]
            return await self.subscribe_form(
                request, email=email, chosen=chosen, language=language,
                errors=_problems(*problems), status=400,
            )
        # The work happens on the sign-up thread: the page and the server's speed after it
        # are the same whether the address is new, pending, active or suppressed. "Check
        # your inbox" is promised only once the sign-up is queued.
        admitted = await run_in_threadpool(self.signups.put, address, choices, client)
        if admitted is Admission.SOURCE_FULL:
            # This client's sign-ups already wait in the queue; it may send more later.
            return self.pages.message(request, "limited", 429, {"Retry-After": RETRY_AFTER})
        if not admitted:
            return self.unavailable(request)
        return self.pages.message(request, "sent")

    def _subscribe(self, address: str, choices: Choices) -> SignupOutcome:
        outcome = self.subs.subscribe(address, choices)
        if outcome is not SignupOutcome.SENT:
            # The same effort whatever the outcome: build the email that was not sent.
            self.subs.decoy(address, choices)
        return outcome

    def unavailable(self, request: Request) -> Response:
        """503 with Retry-After: nothing was done; browsers and mail providers try again."""
        return self.pages.message(
            request, "unavailable", 503, {"Retry-After": RETRY_AFTER, **PRIVATE}
        )

    async def _stored(self, call: Callable[..., T], *args: object) -> T:
        """``call(*args)`` on a worker thread (the store raises only our errors)."""
        return await run_in_threadpool(call, *args)

    async def confirm_get(self, request: Request) -> Response:
        # Only a page with a button: link scanners follow GETs.
        try:
            self.subs.check_confirm_link(request.path_params["token"])
        except TokenError as err:
            return self.pages.bad_link(request, err)
        context = {"page_title": "确认订阅 Confirm", "action": request.url.path}
        return self.pages.render(request, "confirm", context, headers=PRIVATE)

    async def confirm_post(self, request: Request) -> Response:
        # No form token: the signed token in the path is the authority, as for unsubscribe.
        try:
            subscriber = await self._stored(self.subs.confirm, request.path_params["token"])
        except (TokenError, UnknownSubscriberError, SuppressedAddressError) as err:
            return self.pages.bad_link(request, err)
        except DatabaseError as err:
            log.warning("confirmation not recorded: %s", err)
            return self.unavailable(request)
        preferences = self.subs.link(Purpose.PREFERENCES, subscriber.id)
        response = self.pages.message(request, "subscribed", headers=PRIVATE,
                                      preferences_url=preferences)
        if self.welcome is not None:
            response.background = BackgroundTask(self._welcome, subscriber.id)
        return response

    def _welcome(self, subscriber_id: int) -> None:
        # Queued with the confirmation: if this fails, `newsletter worker` sends it later.
        assert self.welcome is not None
        try:
            self.welcome(subscriber_id)
        except NewsletterError as err:
            log.warning("welcome email left for the worker: %s", err)

    # -- unsubscribe -----------------------------------------------------------------------

    async def unsubscribe_get(self, request: Request) -> Response:
        # Only a page with a button: mail scanners and link previews follow GETs.
        try:
            subscriber = await self._stored(
                self.subs.unsubscribe_target, request.path_params["token"]
            )
        except TokenError as err:
            return self.pages.bad_link(request, err)
        except DatabaseError as err:
            log.warning("unsubscribe page not shown: %s", err)
            return self.unavailable(request)
        preferences = self.subs.link(Purpose.PREFERENCES, subscriber.id) if subscriber else None
        context = {
            "page_title": "退订 Unsubscribe", "action": request.url.path,
            "preferences_url": preferences,
        }
        return self.pages.render(request, "unsubscribe", context, headers=PRIVATE)

    async def unsubscribe_post(self, request: Request) -> Response:
        # No form token here: the signed token in the path is the authority, and RFC 8058
        # one-click posts come from mail providers without cookies.
        form = await request.form()
        one_click = form.get("List-Unsubscribe") == "One-Click"
        reason = "one-click (RFC 8058)" if one_click else "unsubscribe page"
        try:
            await self._stored(self.subs.unsubscribe, request.path_params["token"], reason)
        except TokenError as err:
            return self.pages.bad_link(request, err)
        except DatabaseError as err:
            # 503: RFC 8058 senders (mail providers) retry; the request is never lost silently.
            log.warning("unsubscribe not recorded, asked to retry: %s", err)
            return self.unavailable(request)
        return self.pages.message(request, "unsubscribed", headers=PRIVATE)

    # -- preferences -----------------------------------------------------------------------

    async def _preferences_subscriber(self, request: Request) -> Subscriber | Response:
        try:
            return await self._stored(self.subs.preferences, request.path_params["token"])
        except (TokenError, UnknownSubscriberError) as err:
            return self.pages.bad_link(request, err)
        except DatabaseError as err:
            log.warning("preferences page not shown: %s", err)
            return self.unavailable(request)

    async def preferences_get(self, request: Request) -> Response:
        subscriber = await self._preferences_subscriber(request)
        if isinstance(subscriber, Response):
            return subscriber
        return await self.preferences_page(request, subscriber)

    async def preferences_post(self, request: Request) -> Response:
        subscriber = await self._preferences_subscriber(request)
        if isinstance(subscriber, Response):
            return subscriber
        form = await request.form()
        chosen = {str(c) for c in form.getlist("categories")}
        language = str(form.get("language", ""))
        if not form_ok(request, form):
            return await self.preferences_page(
                request, subscriber, chosen=chosen, language=language, status=400,
                errors=_problems(_EXPIRED_PREFERENCES),
            )
        choices = read_choices(chosen, language, await self.categories())
        if isinstance(choices, Problem):
            return await self.preferences_page(
                request, subscriber, chosen=chosen, language=language,
                errors=_problems(choices), status=400,
            )
        token = request.path_params["token"]
        try:
            updated = await self._stored(self.subs.update_preferences, token, choices)
        except DatabaseError as err:
            log.warning("preferences not saved: %s", err)
            return self.unavailable(request)
        return await self.preferences_page(request, updated, saved=True)
