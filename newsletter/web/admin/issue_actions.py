"""The issue editor's side panel: the preview, the checks, and Send test, Schedule, Send now.

The preview is served with a Content-Security-Policy under which nothing runs, for the
editor page's ``<iframe sandbox>``; the checks are an HTML fragment for the same page. The
actions answer with a redirect back to ``/admin/issues/<DATE>`` carrying ``sent=N``,
``done=TEXT`` or ``error=TEXT``. Scheduling stores the time; ``newsletter worker`` starts
the send when it is due. Renderings and reports are kept while the files are unchanged.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from collections import OrderedDict
from collections.abc import Hashable
from pathlib import Path
from typing import Any, Generic, TypeVar
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from newsletter.editing.preflight import IssueSource, Report, preflight
from newsletter.errors import NewsletterError, PreflightError
from newsletter.issues.files import fingerprint, is_date, path_for
from newsletter.issues.loader import load_issue
from newsletter.rendering.renderer import RenderedIssue
from newsletter.sending.campaign import issue_categories
from newsletter.sending.editor_send import send_test
from newsletter.vocabulary import CATEGORY_CODE, LANGUAGES, Variant
from newsletter.web.admin.parts import Desk

PREVIEW_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; img-src https: data:; "
    "style-src 'unsafe-inline'; frame-ancestors 'self'",
    "X-Frame-Options": "SAMEORIGIN",
    "Cache-Control": "no-store",
}
WORKER_NOTE = ("`newsletter worker` starts it when due, at its next look for work "
               "(every 10 seconds unless run with another --poll).")
LANGUAGE_NAMES = {"zh": "Chinese", "en": "English", "both": "Chinese and English"}
# The editor page's field ids (issue_editor.py): featured-0-title_zh, category-2-zh, title.
PAPER_KEYS = frozenset({"category", "title", "title_zh", "authors", "authors_truncated",
                        "affiliations", "summary_zh", "abstract", "url"})
TEXT_KEYS = frozenset({"date", "title", "title_en", "attribution", "summary", "summary_en",
                       "footer", "footer_en"})
_PART = re.compile(r"\[(\d+)\]|\.?([^.\[\]]+)")
_V = TypeVar("_V")


class Recent(Generic[_V]):
    """The last few values by key, for all threads."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._lock = threading.Lock()
        self._items: OrderedDict[Hashable, _V] = OrderedDict()

    def get(self, key: Hashable) -> _V | None:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
            return self._items.get(key)

    def put(self, key: Hashable, value: _V) -> _V:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return value


def variant_words(key: str) -> str:
    """``zh:CV`` -> "Chinese, CV"; ``both:*`` -> "Chinese and English, all categories"."""
    variant = Variant.from_key(key)
    chosen = ", ".join(sorted(variant.categories)) or "all categories"
    limit = f", at most {variant.max_papers} papers" if variant.max_papers else ""
    return f"{LANGUAGE_NAMES[variant.language]}, {chosen}{limit}"


def field_anchor(field: str, codes: list[str]) -> str:
    """The id of the editor page's input for a problem's field (``featured[1].url``:
    ``featured-1-url``), or "" when the page has none."""
    parts: list[str | int] = [int(n) if n else name for n, name in _PART.findall(field)]
    head = str(parts[0]) if parts else ""
    if head in ("featured", "notable") and len(parts) > 1 and isinstance(parts[1], int):
        key = str(parts[2]) if len(parts) > 2 else ""
        return f"{head}-{parts[1]}-{key}" if key in PAPER_KEYS else f"{head}-{parts[1]}"
    if head == "categories" and len(parts) > 1 and str(parts[1]) in codes:
        key = str(parts[2]) if len(parts) > 2 and parts[2] in ("zh", "en") else "code"
        return f"category-{codes.index(str(parts[1]))}-{key}"
    return head if head in TEXT_KEYS or head in ("featured", "notable", "categories") else ""


def findings(report: Report, issues_dir: Path) -> list[dict[str, Any]]:
    """Each finding with its place as the editor sees it: a line and a field (and the id of
    its input), or a variant."""
    codes = list(report.issue.categories) if report.issue is not None else []
    own = str(report.path)
    found = []
    for finding in report.findings:
        where, line, field, variant = finding.where, "", "", ""
        if where.startswith(own):
            rest = where[len(own):]
            if rest.startswith(":"):
                line = rest[1:].split(":")[0]
            elif rest.startswith(" ("):
                variant = rest[2:].rstrip(")")
            where = report.path.name + rest
        else:
            where = where.removeprefix(f"{issues_dir}/")
        head, sep, _ = finding.message.partition(": ")
        if sep and head and " " not in head:
            field = head
        found.append({"level": finding.level, "where": where, "line": line, "field": field,
                      "anchor": field_anchor(field, codes) if field else "",
                      "variant": variant, "message": finding.message})
    return found


def routes(desk: Desk) -> list[BaseRoute]:
    issues_dir, zone, bench = desk.site.issues_dir, desk.site.zone, desk.workbench
    previews: Recent[RenderedIssue] = Recent(32)
    reports: Recent[Report] = Recent(8)

    def report_of(path: Path) -> Report:
        """The preflight report, kept while no issue file changes (blocking)."""
        key = (path.name, fingerprint(issues_dir))
        return reports.get(key) or reports.put(key, preflight(
            IssueSource.read(path), bench.renderer, bench.checks))

    def rendered(date: str, variant: Variant) -> RenderedIssue | str | None:
        """The variant as readers get it, the reason it cannot be rendered, or None when
        there is no such issue (blocking)."""
        path = path_for(issues_dir, date)
        if path is None:
            return None
        try:
            stat = path.stat()
        except OSError:  # removed since
            return None
        key = (date, stat.st_size, stat.st_mtime_ns, variant.key)
        found = previews.get(key)
        if found is not None:
            return found
        try:
            made = bench.renderer.render(load_issue(path), variant, bench.checks.size_limit_bytes)
        except NewsletterError as err:
            return str(err).replace(f"{issues_dir}/", "")
        return previews.put(key, made)

    async def preview(request: Request) -> Response:
        query = request.query_params
        view, language = query.get("view", "html"), query.get("language", "both")
        codes = [c.strip() for c in query.get("categories", "").split(",") if c.strip()]
        if view not in ("html", "text") or language not in LANGUAGES or not all(
                CATEGORY_CODE.fullmatch(c) for c in codes):
            return PlainTextResponse("view is html or text; language zh, en or both; "
                                     "categories CODE,CODE", 400, PREVIEW_HEADERS)
        variant = Variant(language, frozenset(codes))
        made = await run_in_threadpool(rendered, request.path_params["date"], variant)
        if made is None:
            return PlainTextResponse("There is no such issue.", 404, PREVIEW_HEADERS)
        if isinstance(made, str):
            return PlainTextResponse(f"The issue cannot be rendered:\n\n{made}", 422,
                                     PREVIEW_HEADERS)
        if view == "text":
            return PlainTextResponse(made.text, headers=PREVIEW_HEADERS)
        return HTMLResponse(made.html, headers=PREVIEW_HEADERS)

    def check_context(date: str) -> dict[str, Any] | None:
        path = path_for(issues_dir, date)
        if path is None:
            return None
        report = report_of(path)
        limit = bench.checks.size_limit_bytes
        return {"date": date, "findings": findings(report, issues_dir),
                "errors": len(report.errors), "warnings": len(report.warnings),
                "sizes": [(key, variant_words(key), size, size > limit)
                          for key, size in report.sizes.items()],
                "limit": limit}

    async def check(request: Request) -> Response:
        context = await run_in_threadpool(check_context, request.path_params["date"])
        if context is None:
            return HTMLResponse('<p class="error">There is no such issue.</p>', 404)
        return desk.render(request, "issue_check", context)

    def redirect(request: Request, outcome: tuple[str, str]) -> Response:
        name, text = outcome
        date = request.path_params["date"]
        return desk.back(request, f"/issues/{date}" if is_date(date) else "/issues",
                         **{name: quote(text, safe="")})

    def test_to(request: Request, date: str, everyone: bool, all_variants: bool
                ) -> tuple[str, str]:
        path = path_for(issues_dir, date)
        if path is None:
            return "error", f"There is no issue file for {date}."
        to = sorted(desk.sign_in.config.editors) if everyone else [str(request.state.editor)]
        try:
            results = send_test(desk.campaigns, str(path), to, all_variants=all_variants)
        except PreflightError:
            return "error", "Nothing was sent: the checks found errors; fix them first."
        except NewsletterError as err:
            return "error", f"Nothing was sent: {err}"
        failed = [r for r in results if r.error]
        sent = len(results) - len(failed)
        desk.audit(request, "send test", date, f"{sent} sent to {', '.join(to)}"
                   + (", every variant" if all_variants else "")
                   + (f"; {len(failed)} failed: {failed[0].error}" if failed else ""))
        if failed:
            return "error", (f"{len(failed)} of {len(results)} test messages failed "
                             f"({failed[0].address}: {failed[0].error}).")
        return "sent", str(sent)

    async def send_test_post(request: Request) -> Response:
        form = await request.form()
        return redirect(request, await run_in_threadpool(
            test_to, request, request.path_params["date"], form.get("all_editors") == "1",
            form.get("all_variants") == "1"))

    def ready_to_send(date: str) -> tuple[Path, str]:
        """The issue's file and "" when it may be scheduled, else why not (blocking)."""
        path = path_for(issues_dir, date)
        if path is None:
            return Path(), f"There is no issue file for {date}."
        campaign = desk.campaigns.store.get(date)
        if campaign is not None:
            return path, (f"This issue was sent already ({campaign.status})." if
                          campaign.status == "done" else
                          f"This issue is being sent already ({campaign.status}).")
        report = report_of(path)
        if report.errors:
            n = len(report.errors)
            return path, f"The checks found {n} error{'s' if n != 1 else ''}; fix them first."
        return path, ""

    def schedule(request: Request, date: str, day: str, time: str) -> tuple[str, str]:
        try:
            when = dt.datetime.combine(dt.date.fromisoformat(day), dt.time.fromisoformat(time))
        except ValueError:
            return "error", "Give the date as YYYY-MM-DD and the time as HH:MM."
        local = when.replace(tzinfo=zone)
        if local.astimezone(dt.UTC).astimezone(zone).replace(tzinfo=None) != when:
            return "error", f"There is no {when:%H:%M} on {day} in {zone.key} (clocks move)."
        if local <= desk.clock():
            return "error", "Choose a time in the future."
        path, refused = ready_to_send(date)
        if refused:
            return "error", refused
        if not desk.store.schedule(date, str(path.resolve()), local.astimezone(dt.UTC),
                                   str(request.state.editor)):
            return "error", "Its send has started already."
        at = f"{local:%Y-%m-%d %H:%M} ({zone.key})"
        desk.audit(request, "schedule", date, f"for {at}")
        return "done", f"Scheduled for {at}. {WORKER_NOTE}"

    async def schedule_post(request: Request) -> Response:
        form = await request.form()
        return redirect(request, await run_in_threadpool(
            schedule, request, request.path_params["date"], str(form.get("date", "")).strip(),
            str(form.get("time", "")).strip()))

    def unschedule(request: Request, date: str) -> tuple[str, str]:
        if not is_date(date) or not desk.store.unschedule(date):
            return "error", "Nothing to unschedule: it is not scheduled, or its send started."
        desk.audit(request, "unschedule", date)
        return "done", "Unscheduled."

    async def unschedule_post(request: Request) -> Response:
        return redirect(request, await run_in_threadpool(
            unschedule, request, request.path_params["date"]))

    def send_now_context(date: str) -> dict[str, Any]:
        path, refused = ready_to_send(date)
        if refused:
            return {"refused": refused, "status": 409 if path.name else 404}
        try:
            plan = desk.campaigns.plan(str(path))
        except NewsletterError as err:
            return {"refused": str(err).replace(f"{issues_dir}/", ""), "status": 409}
        counts = desk.campaigns.store.variant_counts(issue_categories(plan.issue), date)
        rows = [(key, variant_words(key), plan.rendered[key].subject, n)
                for key, n in counts.items()]
        scheduled = next((s for s in desk.store.scheduled()
                          if s.issue_date == date and s.started_at is None), None)
        warnings = [f for f in findings(plan.report, issues_dir) if f["level"] == "warning"]
        return {"rows": rows, "total": sum(counts.values()), "warnings": warnings,
                "scheduled": scheduled.send_at.astimezone(zone) if scheduled else None,
                "zone": zone, "worker_note": WORKER_NOTE}

    async def send_now_page(request: Request) -> Response:
        date = request.path_params["date"]
        context = await run_in_threadpool(send_now_context, date)
        return desk.render(request, "send_now", {
            "page_title": f"Send {date} now", "section": "issues", "date": date,
            "refused": "", **context}, context.get("status", 200))

    def send_now(request: Request, date: str) -> tuple[str, str]:
        path, refused = ready_to_send(date)
        if refused:
            return "error", refused
        issue = report_of(path).issue
        if issue is None or not desk.campaigns.store.count_recipients(
                issue_categories(issue), date):
            return "error", "No reader would receive it; nothing was sent."
        if not desk.store.schedule(date, str(path.resolve()), desk.clock(),
                                   str(request.state.editor)):
            return "error", "Its send has started already."
        desk.audit(request, "send now", date)
        return "done", f"Sending now: {WORKER_NOTE}"

    async def send_now_post(request: Request) -> Response:
        return redirect(request, await run_in_threadpool(
            send_now, request, request.path_params["date"]))

    return [
        Route("/issues/{date}/preview", preview, methods=["GET"]),
        Route("/issues/{date}/check", check, methods=["GET"]),
        Route("/issues/{date}/send-test", send_test_post, methods=["POST"]),
        Route("/issues/{date}/schedule", schedule_post, methods=["POST"]),
        Route("/issues/{date}/unschedule", unschedule_post, methods=["POST"]),
        Route("/issues/{date}/send-now", send_now_page, methods=["GET"]),
        Route("/issues/{date}/send-now", send_now_post, methods=["POST"]),
    ]
