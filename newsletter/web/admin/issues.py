"""``/admin/issues``: every issue file with its state, and new drafts from arXiv or a digest.

The list reads and checks files in a thread, and keeps each file's check while its size and
modification time stay the same, so with hundreds of files only the edited ones are read
again. The preview, the checks and the send actions are in ``issue_actions.py``.
"""

from __future__ import annotations

import datetime as dt
import re
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote
from zoneinfo import ZoneInfo

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from newsletter.editing.arxiv import ArxivClient, new_draft
from newsletter.editing.digest_import import import_digest
from newsletter.errors import ArxivError, DigestFormatError, IssueValidationError
from newsletter.issues.checks import check_file
from newsletter.issues.files import SUFFIX, file_name, fingerprint, is_date
from newsletter.model.campaigns import Campaign
from newsletter.store.campaigns import CampaignStore
from newsletter.store.desk import Schedule
from newsletter.web.admin.parts import Desk

CAMPAIGN_PAGE = 500
# A schedule taken by a worker this long ago without a campaign was not started.
STARTING = dt.timedelta(minutes=10)
_IDS = re.compile(r"[\s,;]+")
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]")
# The library's errors speak of the command line; on the desk they name the form's fields.
_WEB_WORDS = (
    ("pass --category ID=CODE with one of", "write ID=CODE in Categories, with one of"),
    ("--category ", "Categories: "),
    ("give at least one featured paper: --arxiv ID", "give at least one featured paper"),
    ("from --date", "as given"),
    ("or pass --date", "or give the issue date"),
    ("; pass --date", "; give the issue date"),
)


@dataclass(frozen=True)
class FileCheck:
    """One file as ``issues.checks`` finds it: how many problems, and its title if readable."""

    problems: int
    title: str = ""


@dataclass(frozen=True)
class IssueState:
    """An issue as the list shows it. ``state``: draft, valid, scheduled, starting, failed
    (a schedule the worker could not start), sending, paused or sent; ``label`` says it."""

    date: str
    title: str
    state: str
    label: str
    problems: int
    campaign_id: int | None = None


def check(path: Path) -> FileCheck:
    """The validity checks of one file (blocking: it is read)."""
    checked = check_file(path)
    title = checked.document.issue.title if checked.document is not None else ""
    return FileCheck(len(checked.problems), title)


def describe(date: str, checked: FileCheck, schedule: Schedule | None,
             campaign: Campaign | None, zone: ZoneInfo, now: dt.datetime) -> IssueState:
    """The state of one issue: its campaign's, else its schedule's, else its file's.

    A schedule the worker took makes a campaign within seconds; one taken long ago with no
    campaign is one the worker could not start (the audit log says why).
    """
    n, title = checked.problems, checked.title
    if campaign is not None:
        if campaign.status == "done":
            day = (campaign.finished_at or campaign.created_at).astimezone(zone)
            return IssueState(date, title, "sent", f"sent on {day:%Y-%m-%d}", n, campaign.id)
        return IssueState(date, title, campaign.status, campaign.status, n, campaign.id)
    if schedule is not None:
        at = f"{schedule.send_at.astimezone(zone):%Y-%m-%d %H:%M} ({zone.key})"
        if schedule.started_at is not None and now - schedule.started_at > STARTING:
            return IssueState(date, title, "failed", f"not sent: the worker could not start "
                              f"it (due {at}; see the audit log)", n)
        if schedule.started_at is not None:
            return IssueState(date, title, "starting", f"starting (due {at})", n)
        return IssueState(date, title, "scheduled", f"scheduled for {at}", n)
    if n:
        return IssueState(date, title, "draft", f"draft: {n} problem{'s' if n != 1 else ''}", n)
    return IssueState(date, title, "valid", "valid", 0)


def all_campaigns(store: CampaignStore) -> dict[str, Campaign]:
    """Every campaign by issue date (there is one per sent issue: a few hundred a year)."""
    found: dict[str, Campaign] = {}
    offset = 0
    while True:
        page = store.recent(CAMPAIGN_PAGE, offset)
        for campaign in page:
            found.setdefault(campaign.issue_date, campaign)
        if len(page) < CAMPAIGN_PAGE:
            return found
        offset += CAMPAIGN_PAGE


class FileChecks:
    """Each issue file's check, kept while the file's size and modification time hold."""

    def __init__(self, issues_dir: Path) -> None:
        self.issues_dir = issues_dir
        self._lock = threading.Lock()
        self._known: dict[str, tuple[tuple[int, int], FileCheck]] = {}

    def newest_first(self) -> list[tuple[str, FileCheck]]:
        """(date, check) of every issue file, newest first (blocking: files are read)."""
        with self._lock:
            known = dict(self._known)
        kept: dict[str, tuple[tuple[int, int], FileCheck]] = {}
        found = []
        for name, size, mtime in reversed(fingerprint(self.issues_dir)):
            entry = known.get(name)
            if entry is None or entry[0] != (size, mtime):
                entry = ((size, mtime), check(self.issues_dir / name))
            kept[name] = entry  # files gone since are dropped
            found.append((name.removesuffix(SUFFIX), entry[1]))
        with self._lock:
            self._known = kept
        return found


@dataclass(frozen=True)
class Outcome:
    """What a new-issue form came to: the issue written and a note, or an error at a field
    (``existing``: the date of an issue already there)."""

    date: str = ""
    note: str = ""
    error: str = ""
    field: str = ""
    existing: str = ""


def web_words(text: str) -> str:
    for cli, web in _WEB_WORDS:
        text = text.replace(cli, web)
    return text


def _refused(err: IssueValidationError, field: str, issues_dir: Path) -> Outcome:
    """The file exists (written meanwhile), cannot be written, or the issue model refused
    what was made of the papers."""
    problem = err.problems[0]
    if problem.message.startswith("already exists"):
        date = Path(problem.path).stem
        return Outcome(error=f"There is already an issue for {date}.", field=field,
                       existing=date)
    return Outcome(error=str(err).replace(f"{issues_dir}/", ""), field=field)


def parse_overrides(text: str) -> dict[str, str]:
    """``2209.01346=RO 2209.01540=CV`` -> {ID: CODE}; ValueError naming a bad entry."""
    chosen = {}
    for item in _IDS.split(text.strip()):
        if not item:
            continue
        arxiv_id, sep, code = item.partition("=")
        if not sep or not arxiv_id or not code:
            raise ValueError(f"Categories take ID=CODE (e.g. 2209.01947=LG), not {item!r}")
        chosen[arxiv_id] = code.upper()
    return chosen


def safe_name(filename: str) -> str:
    """An uploaded file's name, kept (its date may name the issue) but harmless."""
    base = filename.replace("\\", "/").rsplit("/", 1)[-1]
    return _UNSAFE_NAME.sub("_", base)[:100].lstrip(".") or "digest.txt"


def routes(desk: Desk) -> list[BaseRoute]:
    issues_dir, zone = desk.site.issues_dir, desk.site.zone
    files = FileChecks(issues_dir)
    # One client for the desk: arXiv asks for 3 seconds between requests from anyone.
    arxiv = ArxivClient(desk.arxiv_api_url)

    def listing() -> list[IssueState]:
        schedules = {s.issue_date: s for s in desk.store.scheduled()}
        campaigns = all_campaigns(desk.campaigns.store)
        now = desk.clock()
        return [describe(date, checked, schedules.get(date), campaigns.get(date), zone, now)
                for date, checked in files.newest_first()]

    async def issues(request: Request) -> Response:
        rows = await run_in_threadpool(listing)
        return desk.render(request, "issues", {
            "page_title": "Issues", "section": "issues", "rows": rows,
            "issues_dir": str(issues_dir),
        })

    def from_arxiv(request: Request, values: dict[str, str]) -> Outcome:
        date = values["date"].strip()
        if not is_date(date):
            return Outcome(error="Give the issue date as YYYY-MM-DD, e.g. 2022-09-07.",
                           field="date")
        if (issues_dir / file_name(date)).exists():
            return Outcome(error=f"There is already an issue for {date}.", field="date",
                           existing=date)
        try:
            overrides = parse_overrides(values["categories"])
        except ValueError as err:
            return Outcome(error=str(err), field="categories")
        featured, notable = _IDS.split(values["featured"]), _IDS.split(values["notable"])
        try:
            draft = new_draft(arxiv, issues_dir, dt.date.fromisoformat(date),
                              [i for i in featured if i], [i for i in notable if i],
                              overrides=overrides, ask=None)
        except ArxivError as err:
            said = web_words(str(err))
            about = "categories" if "Categories" in said or "legend" in said else "featured"
            return Outcome(error=said[:1].upper() + said[1:], field=about)
        except IssueValidationError as err:
            return _refused(err, "date", issues_dir)
        issue = draft.issue
        desk.audit(request, "new issue", date, "from arXiv: " + ", ".join(
            p.arxiv_id for p in issue.papers))
        return Outcome(date=date, note=(
            f"Drafted from arXiv: {len(issue.featured)} featured and {len(issue.notable)} "
            f"notable papers; {draft.todos} TODOs to fill in."))

    def from_digest(request: Request, values: dict[str, str], data: bytes | None,
                    name: str) -> Outcome:
        pasted = values["text"]
        if data is not None and pasted.strip():
            return Outcome(error="Paste the digest or choose its file, not both.",
                           field="digest-text")
        if data is None and not pasted.strip():
            return Outcome(error="Paste the digest, or choose its file.", field="digest-text")
        date_text = values["digest_date"].strip()
        if date_text and not is_date(date_text):
            return Outcome(error="Give the issue date as YYYY-MM-DD, or leave it empty.",
                           field="digest-date")
        if date_text and (issues_dir / file_name(date_text)).exists():
            return Outcome(error=f"There is already an issue for {date_text}.",
                           field="digest-date", existing=date_text)
        shown = name if data is not None else "The pasted text"
        with tempfile.TemporaryDirectory(prefix="desk-digest-") as folder:
            source = Path(folder) / (name if data is not None else "pasted.txt")
            source.write_bytes(data if data is not None else pasted.encode("utf-8"))
            try:
                result = import_digest(
                    source, date=dt.date.fromisoformat(date_text) if date_text else None,
                    issues_dir=issues_dir)
            except DigestFormatError as err:
                said = web_words(str(err).removeprefix(f"{err.path}:{err.line}: "))
                at = f", line {err.line}" if err.line else ""
                field = "digest-text" if data is None else "digest-file"
                return Outcome(error=f"{shown}{at}: {said}", field=field)
            except IssueValidationError as err:
                return _refused(err, "digest-date", issues_dir)
        date = result.issue.date.isoformat()
        desk.audit(request, "new issue", date, f"from a digest ({shown})")
        return Outcome(date=date, note="Imported the digest: " + web_words(
            "; ".join(result.notes)) + ".")

    def new_page(request: Request, values: dict[str, str], outcome: Outcome | None = None,
                 status: int = 200) -> Response:
        return desk.render(request, "issue_new", {
            "page_title": "New issue", "section": "issues", "values": values,
            "outcome": outcome or Outcome(),
        }, status)

    def blank() -> dict[str, str]:
        tomorrow = desk.clock().astimezone(zone).date() + dt.timedelta(days=1)
        return {"date": tomorrow.isoformat(), "featured": "", "notable": "", "categories": "",
                "text": "", "digest_date": ""}

    async def new_form(request: Request) -> Response:
        return new_page(request, blank())

    async def new_post(request: Request) -> Response:
        form = await request.form()
        values = blank() | {key: str(form.get(key, "")) for key in blank()
                            if isinstance(form.get(key), str)}
        if form.get("source") == "arxiv":
            outcome = await run_in_threadpool(from_arxiv, request, values)
        elif form.get("source") == "digest":
            upload = form.get("file")
            data, name = None, ""
            if isinstance(upload, UploadFile) and upload.filename:
                data, name = await upload.read(), safe_name(upload.filename)
            await form.close()
            outcome = await run_in_threadpool(from_digest, request, values, data, name)
        else:
            outcome = Outcome(error="Choose how to start the issue: from arXiv or a digest.")
        if outcome.error:
            return new_page(request, values, outcome, 400)
        return desk.back(request, f"/issues/{outcome.date}", done=quote(outcome.note, safe=""))

    return [
        Route("/issues", issues, methods=["GET"]),
        Route("/issues/new", new_form, methods=["GET"]),
        Route("/issues/new", new_post, methods=["POST"]),
    ]
