"""The pages behind "More like this" and "Not for me" (issue 21).

``/feedback/{token}/{date}/{more|less}/{paper}``: GET shows a page with one button (link
scanners follow GETs and must record nothing); POST records and, for "More like this",
offers to follow the paper's authors or its category, each with one press
(``/feedback/{token}/{date}/follow/{paper}``). ``/feedback/{token}/{date}`` lists every
paper with both buttons: the plain-text part links there once instead of twice a paper.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from newsletter.errors import DatabaseError, TokenError, UnknownSubscriberError
from newsletter.subscribers.paper_feedback import FeedbackTarget, Followed, PaperFeedback
from newsletter.web.pages import Pages
from newsletter.web.security import PRIVATE

log = logging.getLogger(__name__)
T = TypeVar("T")
KINDS = ("more", "less")


class FeedbackRoutes:
    """GET and POST of a feedback link, and the follow press."""

    def __init__(self, feedback: PaperFeedback, pages: Pages) -> None:
        self.feedback = feedback
        self.pages = pages

    async def _run(self, request: Request, call: Callable[..., T], *args: object) -> T | Response:
        try:
            return await run_in_threadpool(call, *args)
        except (TokenError, UnknownSubscriberError) as err:
            return self.pages.bad_link(request, err)
        except DatabaseError as err:
            log.warning("feedback not handled: %s", err)
            return self.pages.message(request, "unavailable", 503,
                                      {"Retry-After": "60", **PRIVATE})

    async def _target(self, request: Request) -> FeedbackTarget | Response:
        params = request.path_params
        if "kind" in params and params["kind"] not in KINDS:
            return self.pages.message(request, "not_found", 404)
        return await self._run(request, self.feedback.target, params["token"], params["date"],
                               params["paper"])

    def _page(self, request: Request, target: FeedbackTarget, kind: str, *,
              recorded: bool = False, followed: Followed | None = None) -> Response:
        base = request.url.path.rsplit(f"/{kind}/", 1)[0]
        context = {
            "page_title": "反馈 Feedback", "kind": kind, "paper": target.paper,
            "category_name": target.category_name, "recorded": recorded,
            "followed": followed, "action": request.url.path,
            "follow_action": f"{base}/follow/{target.paper.arxiv_id}",
            "chosen_all": not target.subscriber.categories,
        }
        return self.pages.render(request, "feedback", context, headers=PRIVATE)

    async def issue_page(self, request: Request) -> Response:
        """Every paper of the reader's email with its two buttons (the plain-text part's
        one feedback link leads here)."""
        params = request.path_params
        found = await self._run(request, self.feedback.issue, params["token"], params["date"])
        if isinstance(found, Response):
            return found
        subscriber, _campaign, issue = found
        papers = [p for p in issue.papers
                  if not subscriber.categories or p.category in subscriber.categories]
        context = {"page_title": "反馈 Feedback", "papers": papers,
                   "base": request.url.path.rstrip("/")}
        return self.pages.render(request, "feedback_issue", context, headers=PRIVATE)

    async def get(self, request: Request) -> Response:
        target = await self._target(request)
        if isinstance(target, Response):
            return target
        return self._page(request, target, request.path_params["kind"])

    async def post(self, request: Request) -> Response:
        target = await self._target(request)
        if isinstance(target, Response):
            return target
        kind = request.path_params["kind"]
        done = await self._run(request, self.feedback.record, target, kind)
        if isinstance(done, Response):
            return done
        return self._page(request, target, kind, recorded=True)

    async def follow(self, request: Request) -> Response:
        target = await self._target(request)
        if isinstance(target, Response):
            return target
        form = await request.form()
        followed = await self._run(request, self.feedback.follow, target,
                                   str(form.get("follow", ""))[:300])
        if isinstance(followed, Response):
            return followed
        return self._page(request, target, "follow", recorded=True, followed=followed)
