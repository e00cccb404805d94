"""Editing commands: ``import-digest``, ``new`` (a draft from arXiv) and ``check`` (preflight)."""

from __future__ import annotations

import datetime as dt
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from newsletter import wiring
from newsletter.cli.help import Command
from newsletter.cli.output import err, fail, out, reported
from newsletter.editing.preflight import IssueSource, preflight
from newsletter.issues.files import is_date, resolve
from newsletter.settings import get_settings

if TYPE_CHECKING:  # imported by the commands that use them, not at every start-up
    from newsletter.editing.arxiv import ArxivPaper

_SEPARATORS = re.compile(r"[\s,]+")


def _date(value: str, option: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise fail(f"{option} must be a date (YYYY-MM-DD), not {value!r}", 2) from None


def _ids(values: Sequence[str] | None) -> list[str]:
    return [i for value in values or () for i in _SEPARATORS.split(value) if i]


def import_digest_command(
    source: Annotated[Path, typer.Argument(help="The digest as plain text.", metavar="FILE.txt")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Where to write the issue (default: "
                                  "NEWSLETTER_ISSUES_DIR/DATE.yaml).", metavar="FILE.yaml")
    ] = None,
    date: Annotated[
        str | None, typer.Option(help="The issue date (default: from the file names, else the "
                                 "newest arXiv ID's month).", metavar="YYYY-MM-DD")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing file.")] = False,
) -> None:
    """Turn the plaintext daily digest into an issue file that editors keep editing.

    A block that cannot be read is reported as FILE:LINE with what was expected, and
    nothing is written. The output says where the date came from.

    Example: newsletter import-digest digest-2022-09-07.txt -o issues/2022-09-07.yaml
    """
    settings = get_settings()
    with reported():
        from newsletter.editing.digest_import import import_digest

        result = import_digest(
            source, out=output, date=_date(date, "--date") if date is not None else None,
            issues_dir=settings.issues_dir,
            overwrite=force, title_en=settings.title_en,
        )
    out.print(f"wrote {result.path}: {'; '.join(result.notes)}", markup=False)


def _ask(paper: ArxivPaper, codes: Sequence[str]) -> str:
    """Ask the editor for the category of a paper whose arXiv category has no code."""
    err.print(f"{paper.arxiv_id} {paper.title!r} is in {paper.primary_category or '?'}",
              markup=False)
    while True:
        code = str(typer.prompt(f"Category ({', '.join(codes)})")).strip().upper()
        if code in codes:
            return code
        err.print(f"{code!r} is not one of {', '.join(codes)}", markup=False)


def _overrides(values: Sequence[str] | None) -> dict[str, str]:
    chosen = {}
    for value in values or ():
        arxiv_id, sep, code = value.partition("=")
        if not sep or not arxiv_id.strip() or not code.strip():
            raise fail(f"--category takes ID=CODE (e.g. 2209.01947=LG), not {value!r}", 2)
        chosen[arxiv_id.strip()] = code.strip().upper()
    return chosen


def new(
    date: Annotated[str, typer.Argument(help="The issue date, YYYY-MM-DD.", metavar="DATE")],
    arxiv: Annotated[
        list[str] | None, typer.Option("--arxiv", help="Featured papers: arXiv IDs, as "
                                       "--arxiv A B, --arxiv A,B or --arxiv A --arxiv B.",
                                       metavar="ID...")
    ] = None,
    notable: Annotated[
        list[str] | None, typer.Option("--notable", help="Notable papers, likewise.",
                                         metavar="ID...")
    ] = None,
    category: Annotated[
        list[str] | None, typer.Option("--category", help="Set a paper's category (repeatable).",
                                       metavar="ID=CODE")
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Where to write the draft (default: "
                                  "NEWSLETTER_ISSUES_DIR/DATE.yaml).", metavar="FILE.yaml")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing file.")] = False,
) -> None:
    """Write a draft issue from arXiv: titles, authors, abstracts, links and categories.

    One request to NEWSLETTER_ARXIV_API_URL fetches every paper. The category comes from
    the paper's primary arXiv category (cs.LG -> LG, cs.CV -> CV, cs.CL -> CL, eess.AS and
    cs.SD -> AS, cs.RO -> RO); for any other, --category ID=CODE sets it, or on a terminal
    you are asked. title_zh and summary_zh are left as TODOs, which `newsletter validate`
    and `newsletter check` report until they are filled in.

    Example: newsletter new 2022-09-07 --arxiv 2209.01947,2209.01667 --notable 2209.01540
    """
    day = _date(date, "DATE")
    with reported():
        settings = get_settings()
        from newsletter.editing.arxiv import ArxivClient, new_draft

        draft = new_draft(
            ArxivClient(settings.arxiv_api_url), settings.issues_dir, day, _ids(arxiv),
            _ids(notable), out=output,
            overrides=_overrides(category), ask=_ask if sys.stdin.isatty() else None,
            overwrite=force,
        )
    out.print(
        f"wrote {draft.path}: {len(draft.issue.featured)} featured and "
        f"{len(draft.issue.notable)} notable papers; {draft.todos} TODOs to fill in "
        "(newsletter validate lists them)", markup=False,
    )


def check(
    issue: Annotated[str, typer.Argument(help="The issue file, or its date (YYYY-MM-DD).")],
) -> None:
    """Run the checks `send` runs first: `validate`'s, then links, categories, repeats, variants.

    Errors (exit status 1) stop a send; warnings are shown. Each line says where.

    Example: newsletter check issues/2022-09-07.yaml
    """
    settings = get_settings()
    with reported():
        path = resolve(issue, settings.issues_dir)
    report = preflight(IssueSource.read(path), wiring.renderer(settings),
                       wiring.preflight_config(settings))
    for finding in report.findings:
        err.print(str(finding), markup=False)
    for key, size in report.sizes.items():
        if key.endswith(":*"):
            out.print(f"{key} {size:>9,} bytes of HTML as sent (the limit, under Gmail's "
                      f"102 KB clip: {settings.size_limit_bytes:,})", markup=False)
    summary = f"{len(report.errors)} error(s), {len(report.warnings)} warning(s)"
    if report.errors:
        raise fail(summary)
    out.print(summary, markup=False)


class NewCommand(Command):
    """``new``: ``--arxiv A B C`` takes every ID up to the next option, as the README shows.

    Click gives an option one value each time it appears, so the words after ``--arxiv``
    or ``--notable`` that are not options (nor the DATE) are each given that option again.
    """

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        spread: list[str] = []
        current: str | None = None
        for word in args:
            if word.startswith("-"):
                current = word if word in _MULTI else None
            elif current is not None and spread[-1] != current and not is_date(word):
                spread.append(current)
            spread.append(word)
        return super().parse_args(ctx, spread)


_MULTI = frozenset({"--arxiv", "--notable"})
OPTIONS: dict[str, dict[str, Any]] = {"new": {"cls": NewCommand}}
COMMANDS: dict[str, Callable[..., None]] = {
    "import-digest": import_digest_command, "new": new, "check": check,
}
