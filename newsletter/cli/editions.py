"""``newsletter weekly``: the week's best (issue 21), built, previewed and sent."""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from newsletter import wiring
from newsletter.cli.delivery import _print_summary, _progress, stop_on_signals
from newsletter.cli.output import err, fail, out, reported
from newsletter.editing import build as editor
from newsletter.editing.weekly import clicks_by_paper, week_days, write_weekly
from newsletter.model.editions import weekly_key
from newsletter.sending.weekly import plan_weekly
from newsletter.settings import get_settings


def weekly(
    date: Annotated[str, typer.Argument(help="The edition's date (YYYY-MM-DD): the last of "
                                        "its seven days, and the weekday it goes out.")],
    build: Annotated[bool, typer.Option("--build", help="Build the edition's file from the "
                                        "daily issues of the seven days ending on DATE.")
                     ] = False,
    preview: Annotated[bool, typer.Option("--preview", help="Say who gets it and write its "
                                          ".html, .txt and .eml to --out.")] = False,
    send: Annotated[bool, typer.Option("--send", help="Send it to the weekly readers whose "
                                       "weekday is DATE's, exactly once.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask; for cron.")] = False,
    out_dir: Annotated[Path, typer.Option("--out", help="Where --preview writes the files.",
                                          metavar="DIR")] = Path("build"),
) -> None:
    """Build, preview or send the week's best: one edition of the daily issues of the seven
    days ending on DATE (no paper twice; featured first, in the editor's order), to the
    readers who chose the weekly edition on DATE's weekday, each at their paper limit and
    with their "For you" block. The file is issues/weekly/DATE.yaml; its campaign is sent
    exactly once, like any issue's (run --send again to resume it).

    Example: newsletter weekly 2026-12-06 --build --preview

    Example (cron): newsletter weekly 2026-12-06 --build --send --yes
    """
    if not (build or preview or send):
        raise fail("choose --build, --preview or --send (or several)", 2)
    try:
        day = dt.date.fromisoformat(date)
    except ValueError:
        raise fail(f"{date!r} is not a date; write it as YYYY-MM-DD", 2) from None
    settings = get_settings()
    with reported(), wiring.campaigns(settings, signing=send) as campaigns:
        if build:
            started = campaigns.store.get(weekly_key(day))
            if started is not None:
                raise fail(f"the week's best of {day} is already being sent "
                           f"({started.status}); it is not built again")
            clicks = clicks_by_paper(campaigns.store.clicks_by_link(
                d.isoformat() for d in week_days(day)))
            path, issue = write_weekly(campaigns.config.issues_dir, day, clicks, overwrite=True)
            out.print(f"{path}: {len(issue.featured)} featured and {len(issue.notable)} "
                      "notable papers", markup=False)
        plan = plan_weekly(campaigns, day)
        for warning in plan.warnings:
            err.print(warning, markup=False)
        if preview:
            out.print(plan.question().replace("Send", "Would send", 1), markup=False)
            result = editor.build(plan.path, out_dir, wiring.workbench(settings))
            for ext, file in result.files.items():
                out.print(f"{file}  {file.stat().st_size:>9,} bytes  ({ext})", markup=False)
        if not send:
            return
        if not yes:
            if not sys.stdin.isatty():
                raise fail("not on a terminal: pass --yes to send without asking")
            if not typer.confirm(plan.question(), default=False):
                out.print("nothing sent", markup=False)
                raise typer.Exit(0)
        with stop_on_signals() as stop:
            summary = campaigns.send(plan, progress=_progress, stop=stop)
    _print_summary(summary)
    raise typer.Exit(summary.exit_code)


COMMANDS: dict[str, Callable[..., None]] = {"weekly": weekly}
