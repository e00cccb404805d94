"""The reader's delivery page (issue 21): how often, how many papers, what to follow.

``/preferences/{token}/delivery``, reached from the preferences page; the same signed
preferences token is the authority, and the form carries the same form token (CSRF).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from newsletter.errors import DatabaseError, TokenError, UnknownSubscriberError
from newsletter.model.editions import MAX_FOLLOWS, MAX_PAPERS_CHOICES, WEEKDAYS
from newsletter.model.subscribers import Subscriber
from newsletter.store.editions import PreferenceStore
from newsletter.subscribers.choices import Problem
from newsletter.subscribers.delivery import DeliveryForm, read_delivery
from newsletter.subscribers.workflow import Subscriptions
from newsletter.web.pages import Pages
from newsletter.web.security import PRIVATE, form_ok, form_token, mask, with_form_cookie

log = logging.getLogger(__name__)
_EXPIRED = Problem("form", "这个表单已过期，请再保存一次。",
                   "This form has expired; please save again.")
WEEKDAY_NAMES = {"MON": ("周一", "Monday"), "TUE": ("周二", "Tuesday"),
                 "WED": ("周三", "Wednesday"), "THU": ("周四", "Thursday"),
                 "FRI": ("周五", "Friday"), "SAT": ("周六", "Saturday"),
                 "SUN": ("周日", "Sunday")}


class DeliveryRoutes:
    """GET shows the form filled in; POST saves it and shows it again, or its problem."""

    def __init__(self, subscriptions: Subscriptions, store: PreferenceStore, pages: Pages,
                 clock: Callable[[], dt.datetime]) -> None:
        self.subs = subscriptions
        self.store = store
        self.pages = pages
        self.clock = clock

    def _page(self, request: Request, subscriber: Subscriber, form: DeliveryForm,
              problem: Problem | None = None, saved: bool = False,
              status: int = 200) -> Response:
        token = form_token(request)
        back = request.url.path.rsplit("/", 1)[0]
        context = {
            "page_title": "接收方式 Delivery", "form_token": token, "action": request.url.path,
            "back_url": back, "masked_email": mask(subscriber.email), "form": form,
            "weekdays": [(code, *WEEKDAY_NAMES[code]) for code in WEEKDAYS],
            "max_choices": MAX_PAPERS_CHOICES, "max_follows": MAX_FOLLOWS,
            "today": self.clock().date().isoformat(),
            "errors": {problem.field: problem} if problem else {}, "saved": saved,
        }
        response = self.pages.render(request, "delivery", context, status, PRIVATE)
        return with_form_cookie(response, request, token)

    async def _subscriber(self, request: Request) -> Subscriber | Response:
        try:
            return await run_in_threadpool(self.subs.preferences, request.path_params["token"])
        except (TokenError, UnknownSubscriberError) as err:
            return self.pages.bad_link(request, err)
        except DatabaseError as err:
            log.warning("delivery page not shown: %s", err)
            return self.pages.message(request, "unavailable", 503,
                                      {"Retry-After": "60", **PRIVATE})

    async def get(self, request: Request) -> Response:
        subscriber = await self._subscriber(request)
        if isinstance(subscriber, Response):
            return subscriber
        prefs = await run_in_threadpool(self.store.get, subscriber.id)
        # A pause that has ended shows as what it is now: daily.
        return self._page(request, subscriber, DeliveryForm.of(prefs.on(self.clock().date())))

    async def post(self, request: Request) -> Response:
        subscriber = await self._subscriber(request)
        if isinstance(subscriber, Response):
            return subscriber
        raw = await request.form()
        form = DeliveryForm.posted(raw)
        if not form_ok(request, raw):
            return self._page(request, subscriber, form, _EXPIRED, status=400)
        read = read_delivery(form, self.clock().date())
        if isinstance(read, Problem):
            return self._page(request, subscriber, form, read, status=400)
        try:
            saved = await run_in_threadpool(
                self.store.set, subscriber.id, read, "delivery page")
        except DatabaseError as err:
            log.warning("delivery preferences not saved: %s", err)
            return self.pages.message(request, "unavailable", 503,
                                      {"Retry-After": "60", **PRIVATE})
        return self._page(request, subscriber, DeliveryForm.of(saved), saved=True)
