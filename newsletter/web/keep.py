"""``/keep/{token}``: the "Keep me subscribed" button of the sunset rule's email.

A GET shows a page with the one button (link scanners follow GETs); the POST records that
the reader stays, so the rule does not unsubscribe them.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from newsletter.errors import DatabaseError, TokenError
from newsletter.reports.hygiene import HygieneData, keep
from newsletter.tokens import Purpose, read_token
from newsletter.web.pages import Pages
from newsletter.web.security import PRIVATE

log = logging.getLogger(__name__)


class KeepRoutes:
    def __init__(self, data: HygieneData, pages: Pages, secret: str,
                 clock: Callable[[], dt.datetime], fallbacks: Sequence[str] = ()) -> None:
        self.data, self.pages, self.secret = data, pages, secret
        self.clock, self.fallbacks = clock, tuple(fallbacks)

    async def keep_get(self, request: Request) -> Response:
        try:
            read_token(self.secret, Purpose.KEEP, request.path_params["token"],
                       now=self.clock().timestamp(), fallbacks=self.fallbacks)
        except TokenError as err:
            return self.pages.bad_link(request, err)
        context = {"page_title": "继续订阅 Keep me subscribed", "action": request.url.path}
        return self.pages.render(request, "keep", context, headers=PRIVATE)

    async def keep_post(self, request: Request) -> Response:
        try:
            await run_in_threadpool(keep, request.path_params["token"], self.secret,
                                    self.data, self.clock, self.fallbacks)
        except TokenError as err:
            return self.pages.bad_link(request, err)
        except DatabaseError as err:
            log.warning("keep not recorded: %s", err)
            return self.pages.message(request, "unavailable", 503,
                                      {"Retry-After": "60", **PRIVATE})
        return self.pages.message(request, "kept", headers=PRIVATE)
