"""Delivery commands: ``send``, ``status``, ``send-test``, ``worker``.

Exit status: 0 when the campaign is done (or, for ``worker --once``, nothing went wrong),
1 on an error, 3 when the campaign is paused or unfinished and should be run again.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from typing import Annotated

import typer

from newsletter import wiring
from newsletter.cli.output import err, fail, log_line, out, reported
from newsletter.cli.progress import LogProgress, RichProgress, make_progress
from newsletter.clock import utc_now
from newsletter.reports.housekeeping import Periodic
from newsletter.sending import drains, schedule
from newsletter.sending import editor_send as editor_sends
from newsletter.sending import worker as workers
from newsletter.sending.report import IN_DOUBT_SHOWN, SendSummary
from newsletter.settings import Settings, get_settings

EXACTLY_ONCE_HINT = (
    "note: no SES event source is configured, so a message in flight when sending stops is "
    "never resent (NEWSLETTER_IN_DOUBT_POLICY=skip). Configure SES events "
    "(NEWSLETTER_SQS_QUEUE_URL or NEWSLETTER_SNS_TOPIC_ARNS) to make delivery exactly-once; "
    "see README.md, Sending."
)


def _progress(label: str, total: int, done: int) -> LogProgress | RichProgress:
    return make_progress(label, total, done, tty=sys.stderr.isatty(), write=log_line)


# Signals after the first while stopping: the second is acknowledged, the third exits at once.
FORCE_AFTER = 3
INTERRUPTED = 3  # the exit status of a run stopped before its end (README, Sending)


@contextmanager
def stop_on_signals() -> Iterator[threading.Event]:
    """SIGINT/SIGTERM stop claiming; messages in flight finish and are recorded.

    The handler only writes the signal's number to a pipe: ``os.write`` is safe in a signal
    handler, while taking a lock there is not (a second signal arriving inside
    ``Event.set`` or ``Event.wait`` deadlocked the process for good). A thread reads the
    pipe, logs, and sets the event. The third signal exits at once with status 3.
    """
    stop = threading.Event()
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)

    def handler(signum: int, _frame: object) -> None:
        with suppress(OSError):  # a full pipe already holds more signals than we act on
            os.write(write_end, bytes([signum]))

    def watch() -> None:
        received = 0
        while data := os.read(read_end, 64):
            for signum in data:
                if signum == 0:  # the block ended
                    return
                received += 1
                name = signal.Signals(signum).name
                if received == 1:
                    log_line(f"{name}: stopping after the messages in flight")
                    stop.set()
                elif received < FORCE_AFTER:
                    log_line(f"{name}: already stopping; one more signal exits at once")
                else:
                    log_line(f"{name}: exiting now; messages in flight stay in doubt")
                    os._exit(INTERRUPTED)

    watcher = threading.Thread(target=watch, name="signals", daemon=True)
    watcher.start()
    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
        with suppress(OSError):
            os.write(write_end, b"\0")
        watcher.join(5)
        os.close(write_end)
        os.close(read_end)


def _print_summary(summary: SendSummary) -> None:
    for line in summary.lines():
        out.print(line, markup=False)


def send(
    issue: Annotated[
        str | None, typer.Argument(help="The issue file, or its date (YYYY-MM-DD); omit "
                                   "with --today.", show_default=False)
    ] = None,
    today: Annotated[
        bool, typer.Option("--today", help="Send the issue dated today in "
                           "NEWSLETTER_TIMEZONE, without asking; for cron.")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask; for cron.")] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Send an issue dated after today.")
    ] = False,
    enqueue_only: Annotated[
        bool, typer.Option("--enqueue-only", help="Snapshot the recipients; leave sending "
                           "to `newsletter worker` processes.")
    ] = False,
    accept_changes: Annotated[
        bool, typer.Option("--accept-changes", help="The issue was edited after the campaign "
                           "started: send the rest the edited version.")
    ] = False,
    retry_failed: Annotated[
        bool, typer.Option("--retry-failed", help="Queue the failed deliveries again (after "
                           "fixing their cause, e.g. verifying the sender in SES).")
    ] = False,
    resume: Annotated[
        bool, typer.Option("--resume", help="Only continue the issue's campaign (paused or "
                           "unfinished); never start one.")
    ] = False,
    max_bounce_rate: Annotated[
        float | None, typer.Option("--max-bounce-rate", min=0.0, max=1.0,
                                   help="The campaign's hard-bounce limit from now on, for "
                                   "every process (default NEWSLETTER_MAX_BOUNCE_RATE when "
                                   "it starts).", metavar="RATE")
    ] = None,
    max_complaint_rate: Annotated[
        float | None, typer.Option("--max-complaint-rate", min=0.0, max=1.0,
                                   help="The campaign's complaint limit from now on (default "
                                   "NEWSLETTER_MAX_COMPLAINT_RATE when it starts).",
                                   metavar="RATE")
    ] = None,
) -> None:
    """Send an issue to every active subscriber whose preferences match it, exactly once.

    The first run snapshots the recipients; running it again continues the same campaign
    (after a crash, a pause or Ctrl-C) and never re-sends to anyone recorded as sent.
    If the issue was edited since the campaign started, it stops and says so (some readers
    already got the old version); --accept-changes sends the rest the edited version.
    The preflight checks (`newsletter check`) run first: an error stops it, warnings are shown.
    An issue dated after today (in NEWSLETTER_TIMEZONE) is refused unless --force.
    --today sends today's issue from NEWSLETTER_ISSUES_DIR and exits 0 saying so when there
    is none, it was already sent, or it is scheduled from the desk and has not started (the
    worker sends it); a paused or unfinished campaign is resumed.
    --retry-failed queues failed deliveries again once their cause is fixed.
    A campaign keeps the health limits it started with; a paused one continues with higher
    ones by --resume --max-bounce-rate RATE (every worker and poller then uses them).
    Exit status: 0 done, 1 error, 3 paused or unfinished (run it again).

    Example: newsletter send issues/2022-09-07.yaml --yes

    Example (cron): newsletter send --today
    """
    settings = get_settings()
    now = utc_now()
    with reported():
        if today and issue is not None:
            raise fail("give an ISSUE or --today, not both", 2)
        if max_bounce_rate == 0 or max_complaint_rate == 0:
            raise fail("--max-bounce-rate and --max-complaint-rate must be above 0", 2)
        config = wiring.send_config(settings)
        found = schedule.todays_file(config, now) if today else None
        if found is not None and found.path is None:
            # Nothing to send: said without opening the database.
            out.print(found.message, markup=False)
            raise typer.Exit(0)
    with reported(), wiring.scheduled_sending(settings) as (campaigns, schedules):
        if today:
            scheduled = schedule.plan_today(campaigns.config, campaigns.store, now, schedules)
            out.print(scheduled.message, markup=False)
            if scheduled.path is None or scheduled.action != "send":
                raise typer.Exit(0)
            issue, yes = str(scheduled.path), True
        elif issue is None:
            raise fail("give the ISSUE to send (a file or a date), or --today", 2)
        plan = campaigns.plan(issue)
        if plan.campaign is None and not force:
            schedule.check_not_future(campaigns.config, plan.issue.date, now)
        for preflight_warning in plan.warnings:
            err.print(preflight_warning, markup=False)
        if settings.in_doubt_policy is None and not settings.has_event_source():
            log_line(EXACTLY_ONCE_HINT)  # a note, hidden by --quiet like the other notes
        if not yes:
            if not sys.stdin.isatty():
                raise fail("not on a terminal: pass --yes to send without asking")
            if not typer.confirm(plan.question(), default=False):
                out.print("nothing sent", markup=False)
                raise typer.Exit(0)
        with stop_on_signals() as stop:
            summary = campaigns.send(
                plan, progress=_progress, enqueue_only=enqueue_only, stop=stop,
                accept_changes=accept_changes, retry_failed=retry_failed, resume=resume,
                max_bounce_rate=max_bounce_rate, max_complaint_rate=max_complaint_rate,
            )
    _print_summary(summary)
    raise typer.Exit(summary.exit_code)


def status(
    issue: Annotated[str, typer.Argument(help="The issue file, or its date (YYYY-MM-DD).")],
    all_in_doubt: Annotated[
        bool, typer.Option("--all", help="List every in-doubt delivery, not the first "
                           f"{IN_DOUBT_SHOWN}.")
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object on stdout, for scripts.")
    ] = False,
) -> None:
    """Show a campaign: queued, sending, sent, failed and in-doubt counts, state, pause reason.

    States: done; paused (with the reason); incomplete (deliveries still queued or in
    flight: a sender is at work, or run `newsletter send` again); see README.md, Sending.
    The first 20 in-doubt deliveries are listed; --all lists every one.

    Example: newsletter status 2022-09-07 --all

    Example (monitoring): newsletter status 2022-09-07 --json
    """
    limit = None if all_in_doubt else IN_DOUBT_SHOWN
    with reported(), wiring.campaigns(get_settings(), signing=False) as campaigns:
        summary = campaigns.status(issue, in_doubt_limit=limit)
    if as_json:
        sys.stdout.write(json.dumps(summary.as_json(), ensure_ascii=False, indent=2) + "\n")
        return
    _print_summary(summary)


def send_test(
    issue: Annotated[str, typer.Argument(help="The issue file, or its date (YYYY-MM-DD).")],
    to: Annotated[
        list[str] | None, typer.Option("--to", help="Send here (repeatable); default "
                                       "NEWSLETTER_EDITORS.", metavar="EMAIL")
    ] = None,
    all_variants: Annotated[
        bool, typer.Option("--all-variants", help="One message per variant subscribers get.")
    ] = False,
) -> None:
    """Send the issue to editors exactly as readers get it; no campaign is created.

    The preflight checks (`newsletter check`) run first: an error stops it. Every --to
    address is checked first too: a bad one exits 2 and nothing is sent.

    Example: newsletter send-test issues/2022-09-07.yaml --to editor@example.org --all-variants
    """
    from newsletter.errors import InvalidAddressError  # here: only this command needs it

    if to:
        try:
            editor_sends.checked_addresses(to)
        except InvalidAddressError as error:
            raise fail(str(error), 2) from None
    with reported(), wiring.campaigns(get_settings()) as campaigns:
        results = editor_sends.send_test(
            campaigns, issue, to, all_variants=all_variants,
            warn=lambda line: err.print(line, markup=False),
        )
    for result in results:
        if result.error:
            err.print(f"{result.address} [{result.variant}]: FAILED: {result.error}",
                      markup=False)
        else:
            out.print(f"{result.address} [{result.variant}]: {result.subject}", markup=False)
    if any(r.error for r in results):
        raise typer.Exit(1)


def _outbox_drains(
    settings: Settings,
) -> AbstractContextManager[list[tuple[str, Callable[[], int]]]]:
    """``wiring_api.outbox_drains``, imported only by the worker: the API's parts are
    not part of ``send``'s start-up (issue #23)."""
    from newsletter import wiring_api

    return wiring_api.outbox_drains(settings)


def worker(
    issue: Annotated[
        str | None, typer.Option("--issue", help="Only this issue (file or date).", metavar="ISSUE")
    ] = None,
    once: Annotated[
        bool, typer.Option("--once", help="Work through the open campaigns once, then exit.")
    ] = False,
    poll: Annotated[
        float, typer.Option(help="Seconds between looks for work.", metavar="SECONDS")
    ] = 10.0,
) -> None:
    """Start sends scheduled from the desk when due, and send campaigns in state "sending",
    sharing the work and the rate with other workers.

    Run one on each machine against the same PostgreSQL (under systemd, Restart=always);
    each scheduled send is started by one worker only. A scheduled issue that fails the
    preflight checks is not sent: the reason is printed and written to the audit log.
    Start campaigns by hand with `newsletter send ISSUE --yes` (or `--enqueue-only`).
    With --issue it works on that campaign only and starts no scheduled send.
    It also sends queued welcome emails and delivers outgoing webhooks.
    Stops cleanly on SIGTERM/Ctrl-C.

    Example: newsletter worker --once
    """
    settings = get_settings()
    with (
        reported(), stop_on_signals() as stop,
        wiring.scheduled_sending(settings, clock=lambda: utc_now()) as (campaigns, schedules),
        # issue 22: welcome emails and webhooks are drained on a thread beside sending.
        _outbox_drains(settings) as outboxes, drains.draining(outboxes, stop),
    ):
        summaries = workers.run_worker(
            campaigns, issue_ref=issue, once=once, poll_seconds=poll,
            progress=_progress, stop=stop, report=_print_summary,
            warn=lambda line: err.print(line, markup=False), schedules=schedules,
            housekeeping=Periodic(lambda: wiring.prune_events(settings)),
        )
    if once and not summaries:
        # Say so: silence would look the same as a worker that failed to look.
        out.print("no campaign to send" + (f" for {issue}" if issue else ""), markup=False)
    if any(s.outcome == "error" for s in summaries):
        raise typer.Exit(1)
    if any(s.outcome == "paused" for s in summaries) or stop.is_set():
        raise typer.Exit(INTERRUPTED)


COMMANDS: dict[str, Callable[..., None]] = {
    "send": send, "status": status, "send-test": send_test, "worker": worker,
}
