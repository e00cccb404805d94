"""``/admin/suppressions``: the addresses never mailed, newest first; add and remove one.

Adding and removing are the ``suppressions add`` and ``suppressions remove`` commands:
:meth:`SubscriberStore.suppress` and :meth:`SubscriberStore.unsuppress`, each audited and
answered by a redirect naming a fixed message. An erased address is kept only as a hash
and cannot be removed here (it has no address to name).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from newsletter.errors import InvalidAddressError
from newsletter.model.addresses import normalize_email
from newsletter.store.readers import ReaderQueries
from newsletter.vocabulary import SUBSCRIBER_STATUSES, SUPPRESSED_STATUSES
from newsletter.web.admin.parts import Desk

# What an editor may give as the reason, as `suppressions add --reason` accepts: their own
# decision, or a status the subscriber with the address then takes too.
SUPPRESSION_REASONS: tuple[str, ...] = (
    "manual", *(s for s in SUBSCRIBER_STATUSES if s in SUPPRESSED_STATUSES)
)
MAX_ADDRESS = 320
DONE = {
    "added": "Suppressed: this address is never mailed again.",
    "removed": "Suppression removed: the address may be mailed again (its reader's status "
               "is unchanged).",
    "not-suppressed": "That address was not suppressed; nothing changed.",
}
ERRORS = {
    "address": "That is not a valid email address; nothing changed.",
    "reason": "Choose a reason from the list; nothing changed.",
}


def when_in(zone: ZoneInfo) -> Callable[[dt.datetime | None], str]:
    """``2026-01-05 09:00``: a stored time shown in the desk's time zone ("" for None)."""
    def when(moment: dt.datetime | None) -> str:
        return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M") if moment else ""
    return when


def routes(desk: Desk) -> list[BaseRoute]:
    @functools.cache
    def queries() -> ReaderQueries:
        return ReaderQueries(desk.subscribers.db)

    def cursor(request: Request, name: str) -> int | None:
        value = request.query_params.get(name, "")
        return int(value) if value.isdigit() and len(value) < 19 else None

    async def listing(request: Request) -> Response:
        page = await run_in_threadpool(queries().suppression_page, cursor(request, "older"),
                                       cursor(request, "newer"))
        params = request.query_params
        context: dict[str, Any] = {
            "page_title": "Suppressions", "section": "suppressions", "page": page,
            "reasons": SUPPRESSION_REASONS, "when": when_in(desk.site.zone),
            "zone_name": desk.site.zone.key,
            "done": DONE.get(params.get("done", ""), ""),
            "error": ERRORS.get(params.get("error", ""), ""),
        }
        return desk.render(request, "suppressions", context)

    async def add(request: Request) -> Response:
        form = await request.form()
        reason = str(form.get("reason", ""))
        if reason not in SUPPRESSION_REASONS:
            return desk.back(request, "/suppressions", error="reason")
        try:
            address = normalize_email(str(form.get("email", ""))[:MAX_ADDRESS])
        except InvalidAddressError:
            return desk.back(request, "/suppressions", error="address")

        def run() -> None:
            desk.subscribers.suppress(address, reason, f"on the desk by {request.state.editor}")
            desk.audit(request, "suppress", address, reason)

        await run_in_threadpool(run)
        return desk.back(request, "/suppressions", done="added")

    async def remove(request: Request) -> Response:
        form = await request.form()
        try:
            address = normalize_email(str(form.get("email", ""))[:MAX_ADDRESS])
        except InvalidAddressError:
            return desk.back(request, "/suppressions", error="address")

        def run() -> bool:
            lifted = desk.subscribers.unsuppress(address)
            if lifted:
                desk.audit(request, "remove suppression", address)
            return lifted

        lifted = await run_in_threadpool(run)
        return desk.back(request, "/suppressions", done="removed" if lifted else "not-suppressed")

    return [
        Route("/suppressions", listing, methods=["GET"]),
        Route("/suppressions", add, methods=["POST"]),
        Route("/suppressions/remove", remove, methods=["POST"]),
    ]
