"""``/admin/issues/<DATE>``: the issue editor.

Every field of the issue and of each paper in one form. Its buttons post the whole form:
``add_featured``, ``remove:notable:2``, ``up:featured:1``, ... edit the form and show it
again without saving; ``save`` writes the file through :mod:`issue_form` (comments, key
order and quoting kept), after the project's own checks and only when the file is still
the version the page was loaded from (the hidden ``version``, a sha256 of its bytes).
Otherwise nothing is written: the problems are shown at their fields, or, when the file
changed meanwhile, the editor's version beside the one on disk, with ``overwrite``.
Beside the form: the preview, the preflight results and the sending controls, whose
routes (``/preview``, ``/check``, ``/send-test``, ``/schedule``, ...) live elsewhere.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from newsletter.editing.yaml_writer import write_new_file
from newsletter.errors import IssueProblem, IssueValidationError
from newsletter.issues.checks import check_file, check_text, id_problems
from newsletter.issues.files import file_name, is_date, path_for
from newsletter.issues.limits import MAX_FILE_BYTES, limit_problem
from newsletter.store.desk import Schedule
from newsletter.web.admin.issue_form import (
    PAPER_KEYS,
    SECTIONS,
    TEXTS,
    IssueForm,
    LegendRow,
    PaperForm,
    apply_form,
    dump_yaml,
    form_from_data,
    load_yaml,
    text_of,
    version_of,
)
from newsletter.web.admin.paper_history import featured_before
from newsletter.web.admin.parts import Desk

TEXT_LABELS = {
    "title": "Title", "title_en": "English title", "attribution": "Attribution",
    "summary": "Summary", "summary_en": "English summary",
    "footer": "Footer", "footer_en": "English footer",
}
PAPER_LABELS = {
    "category": "Category", "title": "English title", "title_zh": "Chinese title",
    "authors": "Authors (one per line)",
    "authors_truncated": "More authors than listed (et al.)",
    "affiliations": "Affiliations (one per line)", "summary_zh": "Chinese summary",
    "abstract": "English abstract", "url": "arXiv link",
}
LEGEND_LABELS = {"code": "Code", "zh": "Chinese name", "en": "English name"}
ROW_LABELS = {"featured": "Featured paper", "notable": "Notable paper", "category": "Category"}
VIEWS = (("html", "HTML"), ("text", "Plain text"))  # phone width: the page's own CSS
LANGUAGES = (("zh", "Chinese"), ("en", "English"), ("both", "Both languages"))
MAX_FIELDS = 6000  # a whole issue at the model's limits has fewer
MAX_ROWS = 500  # rows of each kind read from one form: more than the model allows
_PART = re.compile(r"\[(\d+)\]|\.?([^.\[\]]+)")
GONE = ("is no longer in the issues folder, so nothing was written; copy your text "
        "from the form before you leave this page")
_SAVING = threading.Lock()  # one save at a time: compare the version, then write


def _field(post: Mapping[str, Any], name: str) -> str:
    """A field as submitted, its line breaks ``\\n``, without spaces around."""
    value = post.get(name)
    return text_of(value) if isinstance(value, str) else ""


def _post_lines(post: Mapping[str, Any], name: str) -> list[str]:
    """A one-per-line field's lines, without blank ones."""
    return [line.strip() for line in _field(post, name).split("\n") if line.strip()]


def form_from_post(post: Mapping[str, Any]) -> IssueForm:
    """The form as submitted (the rows present, in order; at most MAX_ROWS of each)."""
    def count(prefix: str) -> int:
        return next((i for i in range(MAX_ROWS) if f"{prefix}-{i}-origin" not in post),
                    MAX_ROWS)

    rows = []
    for i in range(count("category")):
        origin = _field(post, f"category-{i}-origin")
        rows.append(LegendRow(origin[2:] if origin.startswith("k:") else None,
                              *(_field(post, f"category-{i}-{k}") for k in ("code", "zh", "en"))))
    papers: dict[str, list[PaperForm]] = {}
    for section in SECTIONS:
        papers[section] = []
        for i in range(count(section)):
            name = f"{section}-{i}-"
            origin = _field(post, name + "origin")
            paper = PaperForm(int(origin) if origin.isdigit() else None,
                              authors=_post_lines(post, name + "authors"),
                              authors_truncated=name + "authors_truncated" in post,
                              affiliations=_post_lines(post, name + "affiliations"))
            for key in ("category", "title", "title_zh", "url",
                        *(("summary_zh", "abstract") if section == "featured" else ())):
                setattr(paper, key, _field(post, name + key))
            papers[section].append(paper)
    return IssueForm({key: _field(post, key) for key in TEXTS}, rows,
                     papers["featured"], papers["notable"])


def edit(form: IssueForm, action: str) -> str | None:
    """Apply ``add_featured``, ``add_notable``, ``add_category``, ``remove:<section>:<i>``,
    ``up:<section>:<i>`` or ``down:<section>:<i>`` (``i`` from 0) to the form, unsaved.

    Returns the id of the control to focus next, or None when the action does nothing."""
    sections = (*SECTIONS, "category")
    first = {"category": "code"}
    if action.startswith("add_") and action[4:] in sections:
        section = action[4:]
        rows = form.rows(section)
        rows.append(LegendRow() if section == "category"
                    else PaperForm(category=next(iter(code_names(form)), "")))
        return f"{section}-{len(rows) - 1}-{first.get(section, 'title')}"
    verb, _, rest = action.partition(":")
    section, _, number = rest.partition(":")
    if section not in sections or not number.isdigit():
        return None
    rows, i = form.rows(section), int(number)
    if verb == "remove" and i < len(rows):
        del rows[i]
        if not rows:
            return f"add-{section}"
        return f"{section}-{min(i, len(rows) - 1)}-{first.get(section, 'category')}"
    j = {"up": i - 1, "down": i + 1}.get(verb, -1)
    if not (0 <= j < len(rows) and i < len(rows)):
        return None
    rows[i], rows[j] = rows[j], rows[i]
    # The same button on the moved row, or the other one once it has reached the end.
    end = j == 0 if verb == "up" else j == len(rows) - 1
    return f"{('down' if verb == 'up' else 'up') if end else verb}-{section}-{j}"


def locate(path: str, form: IssueForm) -> tuple[str, str]:
    """The id and label of the field a problem's path names (``featured[1].summary_zh``:
    ``featured-1-summary_zh``, "Featured paper 2: Chinese summary"); "" and the path
    when the form has no such field."""
    parts: list[str | int] = [int(n) if n else name for n, name in _PART.findall(path)]
    head = str(parts[0]) if parts else ""
    if head in SECTIONS and len(parts) > 1 and isinstance(parts[1], int):
        who = f"{ROW_LABELS[head]} {parts[1] + 1}"
        key = str(parts[2]) if len(parts) > 2 else ""
        if key in PAPER_LABELS:
            return f"{head}-{parts[1]}-{key}", f"{who}: {PAPER_LABELS[key]}"
        return f"{head}-{parts[1]}", who
    if head in SECTIONS:
        return head, f"{ROW_LABELS[head]}s"
    codes = [row.code for row in form.categories]
    if head == "categories" and len(parts) > 1 and str(parts[1]) in codes:
        i = codes.index(str(parts[1]))
        key = str(parts[2]) if len(parts) > 2 and parts[2] in ("zh", "en") else "code"
        return f"category-{i}-{key}", f"Category {i + 1}: {LEGEND_LABELS[key]}"
    if head == "categories":
        return "categories", "Category legend"
    if head in TEXT_LABELS or head == "date":
        return head, TEXT_LABELS.get(head, "Date")
    return "", path or "The file"


@dataclass(frozen=True)
class FieldProblem:
    anchor: str  # the id of the field ("" for the file as a whole)
    label: str
    message: str


def field_problems(problems: list[IssueProblem], form: IssueForm | None) -> list[FieldProblem]:
    blank = IssueForm({}, [], [], [])
    return [FieldProblem(*locate(p.field, form or blank), p.message) for p in problems]


@dataclass(frozen=True)
class OnDisk:
    """The issue file as it is now: its text, version, form (None when the editor cannot
    read it) and its problems."""

    text: str
    version: str
    form: IssueForm | None
    problems: list[IssueProblem]


def read_issue(path: Path) -> OnDisk:
    """The file now; when it is gone, an empty text with that problem."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return OnDisk("", "", None, [IssueProblem(str(path), 0, "", GONE)])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return OnDisk(raw.decode("utf-8", "replace"), version_of(raw), None,
                      check_file(path).problems)
    form = None
    if len(raw) <= MAX_FILE_BYTES and limit_problem(text, str(path)) is None:
        try:
            form = form_from_data(load_yaml(text))
        except Exception:  # any YAML the round trip cannot read: shown, not edited
            form = None
    return OnDisk(text, version_of(raw), form, check_text(text, str(path)).problems)


@dataclass
class Outcome:
    """What a save did: ``saved`` (changed or not), or why not: ``problems`` (nothing
    written) or ``conflict`` (the file on disk is another version)."""

    saved: bool = False
    changed: bool = False
    problems: list[FieldProblem] = field(default_factory=list)
    conflict: OnDisk | None = None


def _check(form: IssueForm, text: str, path: Path) -> list[FieldProblem]:
    """Why ``text`` (the form written into the file) must not be saved, if it must not:
    the project's checks (TODOs excepted: a draft is saved with them), a code twice in
    the legend, or the text not reading back as the form."""
    codes = [row.code for row in form.categories]
    twice = [FieldProblem(f"category-{i}-code", f"Category {i + 1}: Code",
                          f"{code} is in the legend twice; keep one of them")
             for i, code in enumerate(codes) if code and code in codes[:i]]
    if twice:
        return twice
    checked = check_text(text, str(path))
    document = checked.document
    if document is None:
        return field_problems(checked.problems, form)
    found = field_problems(id_problems(document.issue, document.index, str(path)), form)
    if not found and form_from_data(document.data).content() != form.content():
        found.append(FieldProblem("", "The file", "the editor could not write this form "
                                  "faithfully, so nothing was written; please report it"))
    return found


def save_issue(path: Path, date: str, form: IssueForm, version: str,
               overwrite_of: str | None = None) -> Outcome:
    """Write the form into the issue file if it is still ``version`` (``overwrite_of``:
    the version on disk the editor chose to replace) and the result is valid."""
    with _SAVING:
        disk = read_issue(path)
        if not disk.version:
            return Outcome(problems=[FieldProblem("", "The file", GONE)])
        if disk.version != (overwrite_of or version):
            return Outcome(conflict=disk)
        doc = load_yaml(disk.text) if disk.form is not None else None
        if doc is None:  # only when overwriting a file the editor cannot read
            doc = load_yaml(f"date: {date}\n")
        apply_form(form, doc, trust_origins=overwrite_of is None)
        text = dump_yaml(doc)
        problems = _check(form, text, path)
        if problems:
            return Outcome(problems=problems)
        if text == disk.text:
            return Outcome(saved=True)
        try:
            write_new_file(path, text, overwrite=True)
        except IssueValidationError as err:
            return Outcome(problems=field_problems(err.problems, form))
        return Outcome(saved=True, changed=True)


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return "\n".join(value) if isinstance(value, list) else str(value)


def differences(mine: IssueForm, disk: IssueForm) -> list[tuple[str, str, str, str]]:
    """(id, label, the editor's value, the value on disk) of every field that differs."""
    found = [(key, label, mine.texts[key], disk.texts[key])
             for key, label in TEXT_LABELS.items() if mine.texts[key] != disk.texts[key]]
    for section in ("category", *SECTIONS):
        ours, theirs = mine.rows(section), disk.rows(section)
        keys = ("code", "zh", "en") if section == "category" else [
            k for k in PAPER_KEYS if section == "featured" or k not in ("summary_zh", "abstract")]
        labels = LEGEND_LABELS if section == "category" else PAPER_LABELS
        for i in range(max(len(ours), len(theirs))):
            who = f"{ROW_LABELS[section]} {i + 1}"
            if i >= len(ours) or i >= len(theirs):
                row = ours[i] if i < len(ours) else theirs[i]
                name = row.code if section == "category" else row.title
                found.append((f"{section}-{i}", who, name if i < len(ours) else "(none)",
                              name if i < len(theirs) else "(none)"))
                continue
            for key in keys:
                a, b = getattr(ours[i], key), getattr(theirs[i], key)
                if a != b:
                    found.append((f"{section}-{i}-{key}", f"{who}: {labels[key]}",
                                  _shown(a), _shown(b)))
    return found


def code_names(form: IssueForm | None) -> dict[str, str]:
    """The legend's codes in order, each with its names: the papers' category choices."""
    names: dict[str, str] = {}
    for row in form.categories if form else []:
        if row.code:
            names.setdefault(row.code, " / ".join(n for n in (row.zh, row.en) if n))
    return names


def routes(desk: Desk) -> list[BaseRoute]:
    def file_of(request: Request) -> tuple[str, Path | None]:
        date = str(request.path_params["date"])
        return date, path_for(desk.site.issues_dir, date) if is_date(date) else None

    def schedule_of(date: str) -> Schedule | None:
        return next((s for s in desk.store.scheduled() if s.issue_date == date), None)

    async def page(request: Request, date: str, disk: OnDisk, form: IssueForm | None,
                   version: str, status: int = 200, **extra: Any) -> Response:
        schedule = await run_in_threadpool(schedule_of, date)
        problems: list[FieldProblem] = extra.pop("problems", [])
        errors: dict[str, list[str]] = {}
        for problem in problems:
            errors.setdefault(problem.anchor, []).append(problem.message)
        query = request.query_params
        zone = desk.site.zone
        return desk.render(request, "issue_editor", {
            "page_title": f"Issue {date}", "section": "issues", "date": date,
            "form": form, "version": version, "disk": disk, "problems": problems,
            "errors": errors, "checks": field_problems(disk.problems, disk.form),
            "text_labels": TEXT_LABELS, "paper_labels": PAPER_LABELS,
            "legend_labels": LEGEND_LABELS, "row_labels": ROW_LABELS,
            "views": VIEWS, "languages": LANGUAGES, "schedule": schedule, "zone": zone,
            "send_at": schedule.send_at.astimezone(zone) if schedule else None,
            "flash": {k: query[k] for k in ("saved", "sent", "done", "scheduled", "error")
                      if k in query},
            "focus": None, "unsaved": False, "conflict": None, "differences": [],
            "replacing": None, "code_names": code_names(form),
            "featured_before": await run_in_threadpool(featured_before, desk.papers, date, form),
            **extra,
        }, status)

    async def show(request: Request) -> Response:
        date, path = file_of(request)
        if path is None:
            return desk.pages.message(request, "not_found", 404)
        disk = await run_in_threadpool(read_issue, path)
        return await page(request, date, disk, disk.form, disk.version)

    async def submit(request: Request) -> Response:
        date, path = file_of(request)
        post = await request.form(max_fields=MAX_FIELDS) if is_date(date) else {}
        if path is None and post.get("version"):  # gone since the page loaded: keep the form
            path = desk.site.issues_dir / file_name(date)
        if path is None:
            return desk.pages.message(request, "not_found", 404)
        form = form_from_post(post)
        action = str(post.get("action") or "save")
        version = str(post.get("version") or "")
        replacing = str(post.get("disk_version") or "") or None  # after a conflict
        if action not in ("save", "overwrite"):
            disk = await run_in_threadpool(read_issue, path)
            focus = edit(form, action)
            return await page(request, date, disk, form, version, focus=focus, unsaved=True,
                              replacing=replacing)
        overwrite_of = replacing if action == "overwrite" else None
        outcome = await run_in_threadpool(save_issue, path, date, form, version, overwrite_of)
        if outcome.saved:
            if outcome.changed and desk.papers is not None:  # a published issue's papers
                await run_in_threadpool(desk.papers.reindex)
            if outcome.changed:
                await run_in_threadpool(
                    desk.audit, request, "issue saved", date,
                    f"{len(form.featured)} featured, {len(form.notable)} notable papers")
            return desk.back(request, f"/issues/{date}",
                             saved="1" if outcome.changed else "unchanged")
        if outcome.conflict is not None:
            disk = outcome.conflict
            return await page(request, date, disk, form, version, 409, conflict=disk,
                              replacing=disk.version, unsaved=True,
                              differences=differences(form, disk.form) if disk.form else [])
        disk = await run_in_threadpool(read_issue, path)
        return await page(request, date, disk, form, version, 422,
                          problems=outcome.problems, unsaved=True, replacing=replacing)

    return [
        Route("/issues/{date}", show, methods=["GET"]),
        Route("/issues/{date}", submit, methods=["POST"]),
    ]
