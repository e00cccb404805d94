"""The desk's part of issue 21: a reader's frequency, paper limit and follows, changed by
an editor on the reader's page (``subscribers_reader``); audited like every desk action."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from newsletter.errors import UnknownSubscriberError
from newsletter.model.editions import MAX_FOLLOWS, MAX_PAPERS_CHOICES, WEEKDAYS
from newsletter.store.editions import PreferenceStore
from newsletter.subscribers.choices import Problem
from newsletter.subscribers.delivery import DeliveryForm, read_delivery
from newsletter.web.admin.parts import Desk

# Flash messages of the reader's page (merged into ``subscribers.DONE`` and ``ERRORS``).
DONE = {"delivery": "Saved how often this reader gets mail, how many papers and what they "
                    "follow."}
ERRORS = {
    "frequency": "Choose daily, weekly or paused.",
    "weekday": "Choose the weekday of the weekly edition.",
    "until": "Give the day the pause ends (YYYY-MM-DD), after today and within a year.",
    "max_papers": "Choose all, 10, 5 or 3 papers per email.",
    "keywords": f"Follows: at most {MAX_FOLLOWS} in all, each at most 80 characters, no ';'.",
    "authors": "Authors: each at most 80 characters, without ';'.",
    "affiliations": "Affiliations: each at most 80 characters, without ';'.",
}


def delivery_view(desk: Desk, subscriber_id: int) -> dict[str, object]:
    """What the reader's page shows of their delivery choices, and the form's options."""
    prefs = PreferenceStore(desk.subscribers.db).get(subscriber_id).on(desk.clock().date())
    return {"delivery": DeliveryForm.of(prefs), "delivery_prefs": prefs,
            "weekday_codes": WEEKDAYS, "max_choices": MAX_PAPERS_CHOICES}


def routes(desk: Desk) -> list[BaseRoute]:
    async def save(request: Request) -> Response:
        subscriber_id: int = request.path_params["id"]
        form = DeliveryForm.posted(await request.form())
        read = read_delivery(form, desk.clock().date())
        if isinstance(read, Problem):
            return desk.back(request, f"/subscribers/{subscriber_id}", error=read.field)

        def run() -> None:
            PreferenceStore(desk.subscribers.db, desk.clock).set(
                subscriber_id, read, f"on the desk by {request.state.editor}")
            desk.audit(request, "reader delivery", f"subscriber #{subscriber_id}",
                       f"{read.frequency}, max {read.max_papers_cell() or 'all'}, "
                       f"{len(read.follows)} follows")

        try:
            await run_in_threadpool(run)
        except UnknownSubscriberError:
            return desk.back(request, "/subscribers", error="gone")
        return desk.back(request, f"/subscribers/{subscriber_id}", done="delivery")

    return [Route("/subscribers/{id:int}/delivery", save, methods=["POST"])]
