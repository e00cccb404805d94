"""``/admin/subscribers``: find readers, one reader's page and its actions, CSV out and in.

The search is a keyset page of :class:`ReaderQueries` (no counting). Each action on a reader
is a POST, confirmed in the page (``data-confirm``; erasing also needs its box ticked, so
it is confirmed without the script too), audited, and answered by a redirect whose query
names a fixed message (``?done=unsubscribed``), never text from the request.

A CSV import takes two steps, as the issue asks: the upload is checked (a dry run that
reports every row) and only ``Apply`` imports it. Between them the file stays on the server,
in a private temporary folder under a random id, with the address of the editor who sent
it: the page and the ``Apply`` button carry only the id, and an id is good only for its
editor, for an hour, once. (Several app processes on one host share the folder; the desk
is not meant to run on several hosts.)
"""

from __future__ import annotations

import functools
import io
import json
import os
import re
import secrets
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from itertools import islice
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from newsletter.errors import ImportFileError, InvalidAddressError, UnknownSubscriberError
from newsletter.issues.categories import available_categories
from newsletter.model.addresses import normalize_email
from newsletter.model.editions import ReaderPreferences
from newsletter.model.subscribers import Subscriber
from newsletter.store.editions import PreferenceStore
from newsletter.store.readers import EVERY_CATEGORY, ReaderFilter, ReaderQueries
from newsletter.subscribers.csv_io import export_csv, import_csv, preview_csv
from newsletter.vocabulary import CATEGORY_CODE, LANGUAGES, SUBSCRIBER_STATUSES
from newsletter.web.admin import reader_delivery
from newsletter.web.admin.parts import Desk
from newsletter.web.admin.suppressions import SUPPRESSION_REASONS, when_in
from newsletter.web.security import PRIVATE

MAX_SEARCH = 320
SHOWN_ROWS = 1000  # rows of an import check listed on the page (the counts cover all)
UPLOAD_TTL = 3600.0  # seconds an uploaded file waits for Apply
_UPLOAD_ID = re.compile(r"[A-Za-z0-9_-]{32}")
DONE = {
    "unsubscribed": "Unsubscribed: no more issues go to this reader.",
    "suppressed": "Suppressed: this address is never mailed again.",
    "erased": "Erased: only a hash of the address is kept, so it can never be added again.",
    "discarded": "The uploaded file was discarded; nothing was imported.",
    **reader_delivery.DONE,
}
ERRORS = {
    "gone": "That reader no longer exists (erased?).",
    "not-subscribed": "This reader is not subscribed; nothing was changed.",
    "reason": "Choose a reason from the list.",
    "not-sure": "Nothing was erased: tick the box to confirm first.",
    "no-file": "Choose a CSV file to upload.",
    "expired": "That upload is gone (applied, discarded or over an hour old); upload it again.",
    "unreadable": "That file cannot be imported; nothing was imported.",
    **reader_delivery.ERRORS,
}


class Uploads:
    """CSV files waiting between the check and ``Apply``: ``<id>.csv`` beside ``<id>.json``
    (who uploaded it, its name), in a folder only this user may enter."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def keep(self, editor: str, name: str, data: bytes) -> str:
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = self.folder.stat()
        if info.st_uid != os.getuid() or info.st_mode & 0o077:
            raise PermissionError(f"{self.folder} must be this user's own, mode 700")
        self._prune()
        upload = secrets.token_urlsafe(24)
        (self.folder / f"{upload}.csv").write_bytes(data)
        (self.folder / f"{upload}.json").write_text(json.dumps({"editor": editor, "name": name}))
        return upload

    def find(self, editor: str, upload: str) -> tuple[Path, str] | None:
        """The file and its name, when ``upload`` is ``editor``'s and not too old."""
        if not _UPLOAD_ID.fullmatch(upload):
            return None
        try:
            meta = json.loads((self.folder / f"{upload}.json").read_text())
            path = self.folder / f"{upload}.csv"
            fresh = time.time() - path.stat().st_mtime < UPLOAD_TTL
        except (OSError, ValueError):
            return None
        if not fresh or not secrets.compare_digest(str(meta.get("editor")), editor):
            return None
        return path, str(meta.get("name", ""))

    def take(self, editor: str, upload: str) -> tuple[Path, str] | None:
        """:meth:`find`, claiming the file (a rename: of two clicks on Apply, one wins)."""
        found = self.find(editor, upload)
        if found is None:
            return None
        taken = found[0].with_suffix(".taken")
        try:
            found[0].rename(taken)
        except FileNotFoundError:
            return None
        return taken, found[1]

    def drop(self, upload: str) -> None:
        for suffix in (".csv", ".taken", ".json"):
            (self.folder / f"{upload}{suffix}").unlink(missing_ok=True)

    def _prune(self) -> None:
        for path in self.folder.glob("*.json"):
            try:
                if time.time() - path.stat().st_mtime > UPLOAD_TTL:
                    self.drop(path.stem)
            except OSError:
                continue


def csv_chunks(readers: Iterable[Subscriber], size: int = 2000,
               preferences: Mapping[int, ReaderPreferences] | None = None) -> Iterator[str]:
    """The export of ``newsletter subscribers export`` (:func:`export_csv`), in pieces."""
    source = iter(readers)
    header = ""
    while True:
        batch = list(islice(source, size))
        out = io.StringIO()
        export_csv(batch, out, preferences)
        text = out.getvalue()
        if not header:
            header = text[:text.index("\n") + 1]
            yield text
        elif batch:
            yield text[len(header):]
        if len(batch) < size:
            return


def _choice(value: str | None, allowed: Iterable[str]) -> str | None:
    return value if value in set(allowed) else None


def _filters(request: Request) -> dict[str, str]:
    """The search form's values from the query, each checked (unknown values dropped)."""
    params = request.query_params
    category = params.get("category", "")
    return {
        "q": params.get("q", "").strip()[:MAX_SEARCH],
        "match": _choice(params.get("match"), ("prefix", "contains")) or "prefix",
        "status": _choice(params.get("status"), SUBSCRIBER_STATUSES) or "",
        "category": category if category == EVERY_CATEGORY
        or CATEGORY_CODE.fullmatch(category) else "",
        "language": _choice(params.get("language"), LANGUAGES) or "",
    }


def _address(text: str) -> str:
    """What to look for: a whole address as stored (punycode, lower case), else the text."""
    try:
        return normalize_email(text) if "@" in text else text.lower()
    except InvalidAddressError:
        return text.lower()


def routes(desk: Desk) -> list[BaseRoute]:
    uploads = Uploads(Path(tempfile.gettempdir()) / f"newsletter-desk-imports-{os.getuid()}")

    @functools.cache
    def queries() -> ReaderQueries:
        return ReaderQueries(desk.subscribers.db)

    def messages(request: Request) -> dict[str, str]:
        return {"done": DONE.get(request.query_params.get("done", ""), ""),
                "error": ERRORS.get(request.query_params.get("error", ""), "")}

    def common(request: Request) -> dict[str, Any]:
        return {"section": "subscribers", "when": when_in(desk.site.zone),
                "zone_name": desk.site.zone.key, **messages(request)}

    async def search(request: Request) -> Response:
        chosen = _filters(request)
        query = ReaderFilter(
            text=_address(chosen["q"]), contains=chosen["match"] == "contains",
            status=chosen["status"] or None, category=chosen["category"] or None,
            language=chosen["language"] or None)
        params = request.query_params
        page = await run_in_threadpool(
            queries().search, query, params.get("after"), params.get("before"))
        categories = await run_in_threadpool(available_categories, desk.site.issues_dir)
        kept = {key: value for key, value in chosen.items() if value and value != "prefix"}

        def link(**cursor: str) -> str:
            return "?" + urlencode({**kept, **cursor})

        return desk.render(request, "subscribers", {
            **common(request), "page_title": "Readers", "filters": chosen, "page": page,
            "categories": categories, "statuses": SUBSCRIBER_STATUSES, "languages": LANGUAGES,
            "every": EVERY_CATEGORY, "searched": bool(kept),
            "next_url": link(after=page.next_after) if page.next_after else "",
            "prev_url": link(before=page.prev_before) if page.prev_before else "",
            "export_url": "?" + urlencode({"status": chosen["status"]}) if chosen["status"]
            else "",
        })

    def reader_view(subscriber_id: int, before: int | None) -> dict[str, Any] | None:
        reader = desk.subscribers.get(subscriber_id)
        if reader is None:
            return None
        shown, older = queries().deliveries(subscriber_id, before)
        return {
            "reader": reader, "history": queries().history(subscriber_id),
            "deliveries": shown, "older": older,
            "ses": queries().ses_events([d.id for d in shown]),
            "issue_of": {d.id: d.issue_date for d in shown},
            "suppression": desk.subscribers.suppression(reader.email),
            **reader_delivery.delivery_view(desk, subscriber_id),
        }

    async def reader(request: Request) -> Response:
        before = request.query_params.get("before", "")
        view = await run_in_threadpool(reader_view, request.path_params["id"],
                                       int(before) if before.isdigit() and len(before) < 19
                                       else None)
        if view is None:
            raise HTTPException(404)
        return desk.render(request, "subscribers_reader", {
            **common(request), **view, "page_title": view["reader"].email,
            "reasons": SUPPRESSION_REASONS,
        })

    def acting(action: str) -> Callable[[Request], Awaitable[Response]]:
        async def act(request: Request) -> Response:
            subscriber_id: int = request.path_params["id"]
            form = await request.form()
            editor = str(request.state.editor)
            target = f"subscriber #{subscriber_id}"

            def run() -> str:
                """The outcome: a key of DONE, or of ERRORS prefixed with ``!``."""
                reader = desk.subscribers.get(subscriber_id)
                if reader is None:
                    return "!gone"
                if action == "unsubscribe":
                    if reader.status not in ("pending", "active"):
                        return "!not-subscribed"
                    desk.subscribers.set_status(
                        subscriber_id, "unsubscribed", f"unsubscribed on the desk by {editor}")
                    desk.audit(request, "unsubscribe", target, f"was {reader.status}")
                    return "unsubscribed"
                if action == "suppress":
                    reason = str(form.get("reason", ""))
                    if reason not in SUPPRESSION_REASONS:
                        return "!reason"
                    desk.subscribers.suppress(reader.email, reason, f"on the desk by {editor}")
                    desk.audit(request, "suppress", target, reason)
                    return "suppressed"
                if form.get("sure") != "yes":
                    return "!not-sure"
                desk.subscribers.remove(reader.email)
                desk.audit(request, "erase", target, "address kept only as a hash")
                return "erased"

            try:
                outcome = await run_in_threadpool(run)
            except UnknownSubscriberError:
                outcome = "!gone"
            if outcome in ("erased", "!gone"):
                return desk.back(request, "/subscribers", **_flash(outcome))
            return desk.back(request, f"/subscribers/{subscriber_id}", **_flash(outcome))

        return act

    async def export(request: Request) -> Response:
        asked = request.query_params.get("status")
        status = next((known for known in SUBSCRIBER_STATUSES if known == asked), None)
        await run_in_threadpool(desk.audit, request, "export readers", status or "all", "CSV")
        name = f"subscribers-{desk.clock().date().isoformat()}.csv"
        return StreamingResponse(
            csv_chunks(desk.subscribers.list(status), preferences=await run_in_threadpool(
                PreferenceStore(desk.subscribers.db).chosen)),
            media_type="text/csv; charset=utf-8",
            headers={**PRIVATE, "Content-Disposition": f'attachment; filename="{name}"'})

    async def import_form(request: Request) -> Response:
        params = request.query_params
        counts = {key: int(params[key]) for key in ("imported", "present", "suppressed", "bad")
                  if params.get(key, "").isdigit()}
        return desk.render(request, "subscribers_import", {
            **common(request), "page_title": "Import readers", "counts": counts})

    async def upload(request: Request) -> Response:
        async with request.form(max_files=1, max_fields=4) as form:
            sent = form.get("file")
            if not isinstance(sent, UploadFile) or not sent.filename:
                return desk.back(request, "/subscribers/import", error="no-file")
            data = await sent.read()
            name = re.sub(r"[^\w. -]", "_", Path(sent.filename).name)[:100] or "upload.csv"
        upload_id = await run_in_threadpool(uploads.keep, str(request.state.editor), name, data)
        return desk.back(request, f"/subscribers/import/{upload_id}")

    def check(path: Path) -> dict[str, Any] | None:
        known = available_categories(desk.site.issues_dir)
        try:
            with _open(path) as lines:
                preview = preview_csv(queries(), lines, known=known, keep=SHOWN_ROWS)
        except ImportFileError as error:
            return {"problem": str(error), "preview": None}
        except FileNotFoundError:  # applied or discarded meanwhile
            return None
        return {"problem": "", "preview": preview}

    async def import_check(request: Request) -> Response:
        found = await run_in_threadpool(uploads.find, str(request.state.editor),
                                        request.path_params["upload"])
        result = await run_in_threadpool(check, found[0]) if found else None
        if found is None or result is None:
            return desk.back(request, "/subscribers/import", error="expired")
        return desk.render(request, "subscribers_import_check", {
            **common(request), **result, "page_title": "Check the import", "name": found[1],
            "upload": request.path_params["upload"], "shown": SHOWN_ROWS})

    async def import_apply(request: Request) -> Response:
        upload_id = request.path_params["upload"]
        found = await run_in_threadpool(uploads.take, str(request.state.editor), upload_id)
        if found is None:
            return desk.back(request, "/subscribers/import", error="expired")
        path, name = found

        def apply() -> dict[str, str]:
            known = available_categories(desk.site.issues_dir)
            try:
                with _open(path) as lines:
                    report = import_csv(desk.subscribers, lines, reason=f"import from {name}",
                                        known=known)
            finally:
                uploads.drop(upload_id)
            desk.audit(request, "import readers", name, report.summary())
            return {"imported": str(report.imported), "present": str(report.already_present),
                    "suppressed": str(report.suppressed), "bad": str(len(report.bad))}

        try:
            counts = await run_in_threadpool(apply)
        except ImportFileError:  # no header: the check said so, and offered no Apply
            return desk.back(request, "/subscribers/import", error="unreadable")
        return desk.back(request, "/subscribers/import", **counts)

    async def import_discard(request: Request) -> Response:
        upload_id = request.path_params["upload"]
        if await run_in_threadpool(uploads.find, str(request.state.editor), upload_id):
            await run_in_threadpool(uploads.drop, upload_id)
        return desk.back(request, "/subscribers/import", done="discarded")

    return [
        Route("/subscribers", search, methods=["GET"]),
        Route("/subscribers.csv", export, methods=["GET"]),
        Route("/subscribers/import", import_form, methods=["GET"]),
        Route("/subscribers/import", upload, methods=["POST"]),
        Route("/subscribers/import/{upload}", import_check, methods=["GET"]),
        Route("/subscribers/import/{upload}", import_apply, methods=["POST"]),
        Route("/subscribers/import/{upload}/discard", import_discard, methods=["POST"]),
        Route("/subscribers/{id:int}", reader, methods=["GET"]),
        Route("/subscribers/{id:int}/unsubscribe", acting("unsubscribe"), methods=["POST"]),
        Route("/subscribers/{id:int}/suppress", acting("suppress"), methods=["POST"]),
        Route("/subscribers/{id:int}/erase", acting("erase"), methods=["POST"]),
    ]


def _flash(outcome: str) -> dict[str, str]:
    return {"error": outcome[1:]} if outcome.startswith("!") else {"done": outcome}


def _open(path: Path) -> io.TextIOWrapper:
    # As `newsletter subscribers import` opens its file.
    return path.open(encoding="utf-8-sig", errors="surrogateescape", newline="")
