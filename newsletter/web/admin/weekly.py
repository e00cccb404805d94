"""The desk's weekly editions (issue 21): the next seven days, each with its weekday's
weekly readers, whether its edition is built, its campaign and its schedule; build and
schedule buttons. A scheduled edition is started by ``newsletter worker`` when due."""

from __future__ import annotations

import datetime as dt
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from newsletter.editing.weekly import clicks_by_paper, week_days, weekly_path, write_weekly
from newsletter.errors import NewsletterError
from newsletter.model.editions import WEEKDAYS, weekly_key
from newsletter.store.editions import PreferenceStore
from newsletter.web.admin.parts import Desk

DONE = {
    "built": "The edition was built from the week's daily issues.",
    "scheduled": "Scheduled; `newsletter worker` starts it when due.",
}
ERRORS = {
    "date": "That is not a date (YYYY-MM-DD).",
    "started": "Its campaign has started; it is not built or scheduled again.",
    "not-built": "Build the edition first.",
    "time": "Give a time in the future as HH:MM (in the desk's time zone).",
    "cannot-build": "The edition could not be built: there is no valid daily issue that week.",
}


def routes(desk: Desk) -> list[BaseRoute]:
    zone = desk.site.zone
    issues_dir = desk.site.issues_dir

    def overview() -> dict[str, Any]:
        today = desk.clock().astimezone(zone).date()
        readers = PreferenceStore(desk.subscribers.db).weekly_readers()
        scheduled = {s.issue_date: s for s in desk.store.scheduled()}
        rows = []
        for n in range(7):
            day = today + dt.timedelta(days=n)
            key = weekly_key(day)
            campaign = desk.campaigns.store.get(key)
            schedule = scheduled.get(key)
            rows.append({
                "date": day.isoformat(), "weekday": WEEKDAYS[day.weekday()],
                "readers": readers.get(day.weekday(), 0),
                "built": weekly_path(issues_dir, day).exists(),
                "campaign": campaign,
                "send_at": schedule.send_at.astimezone(zone) if schedule else None,
            })
        return {"rows": rows}

    async def page(request: Request) -> Response:
        params = request.query_params
        return desk.render(request, "weekly", {
            "page_title": "Weekly editions", "section": "weekly", "zone": zone.key,
            "done": DONE.get(params.get("done", ""), ""),
            "error": ERRORS.get(params.get("error", ""), ""),
            **await run_in_threadpool(overview)})

    def day_of(request: Request) -> dt.date | None:
        try:
            return dt.date.fromisoformat(request.path_params["date"])
        except ValueError:
            return None

    def build(request: Request, day: dt.date) -> str:
        if desk.campaigns.store.get(weekly_key(day)) is not None:
            return "!started"
        try:
            clicks = clicks_by_paper(desk.campaigns.store.clicks_by_link(
                d.isoformat() for d in week_days(day)))
            _path, issue = write_weekly(issues_dir, day, clicks, overwrite=True)
        except NewsletterError:
            return "!cannot-build"
        desk.audit(request, "build weekly", day.isoformat(),
                   f"{len(issue.featured)} featured, {len(issue.notable)} notable")
        return "built"

    def schedule(request: Request, day: dt.date, time: str) -> str:
        key = weekly_key(day)
        path = weekly_path(issues_dir, day)
        if not path.exists():
            return "!not-built"
        try:
            local = dt.datetime.combine(day, dt.time.fromisoformat(time)).replace(tzinfo=zone)
        except ValueError:
            return "!time"
        if local <= desk.clock():
            return "!time"
        if not desk.store.schedule(key, str(path.resolve()), local.astimezone(dt.UTC),
                                   str(request.state.editor)):
            return "!started"
        desk.audit(request, "schedule weekly", day.isoformat(), f"for {local:%Y-%m-%d %H:%M}")
        return "scheduled"

    def acting(action: str) -> Any:
        async def act(request: Request) -> Response:
            day = day_of(request)
            if day is None:
                return desk.back(request, "/weekly", error="date")
            form = await request.form()
            if action == "build":
                outcome = await run_in_threadpool(build, request, day)
            else:
                outcome = await run_in_threadpool(schedule, request, day,
                                                  str(form.get("time", "")).strip()[:8])
            flash = {"error": outcome[1:]} if outcome.startswith("!") else {"done": outcome}
            return desk.back(request, "/weekly", **flash)

        return act

    return [
        Route("/weekly", page, methods=["GET"]),
        Route("/weekly/{date}/build", acting("build"), methods=["POST"]),
        Route("/weekly/{date}/schedule", acting("schedule"), methods=["POST"]),
    ]
