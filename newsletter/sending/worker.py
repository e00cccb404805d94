"""``worker``: start due scheduled sends, and send every open campaign, alongside other
workers sharing the database."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

from newsletter.editing.weekly import weekly_path
from newsletter.errors import (
    CampaignError,
    DatabaseError,
    IssueValidationError,
    NewsletterError,
    StoreError,
)
from newsletter.issues.files import file_name
from newsletter.issues.loader import load_issue
from newsletter.model.campaigns import Campaign
from newsletter.model.editions import weekly_day
from newsletter.model.outages import OutageBackoff
from newsletter.sending.campaign import Campaigns, ProgressFactory, check_unchanged
from newsletter.sending.report import SendSummary, eventful, summarize
from newsletter.sending.weekly import plan_weekly

log = logging.getLogger(__name__)

SYSTEM_ACTOR = "worker"  # who the audit log names for what a worker did on its own


class DueSchedule(Protocol):
    """A scheduled send that is due: the issue's date and the file that was scheduled."""

    @property
    def issue_date(self) -> str: ...

    @property
    def issue_path(self) -> str: ...


class Schedules(Protocol):
    """Where scheduled sends come from (the desk's store, ``wiring.schedules``)."""

    def take_due(self) -> Sequence[DueSchedule]:
        """The schedules due now, each marked started and handed to this caller alone."""
        ...

    def audit(self, actor: str, action: str, target: str = "", detail: str = "") -> None:
        """Record in the audit log that ``actor`` did ``action`` to ``target``."""
        ...


def run_worker(
    campaigns: Campaigns,
    *,
    issue_ref: str | None = None,
    once: bool = False,
    poll_seconds: float = 10.0,
    progress: ProgressFactory | None = None,
    stop: threading.Event | None = None,
    report: Callable[[SendSummary], None] | None = None,
    warn: Callable[[str], None] = log.warning,
    schedules: Schedules | None = None,
    backoff: OutageBackoff | None = None,
    housekeeping: Callable[[], None] | None = None,
) -> list[SendSummary]:
    """Send every campaign in state ``sending`` (or only ``issue_ref``'s) until stopped.

    On each pass, first the due ``schedules`` are started (see :func:`start_scheduled`;
    not with ``issue_ref``, which confines the worker to one campaign). With ``once``,
    each open campaign is worked through once and the function returns. Other workers on
    other machines may work on the same campaigns at the same time. A campaign whose issue
    file cannot be read is skipped, with one line to ``warn`` saying why; the others are
    sent. When the database fails (a restart, an outage), one line to ``warn`` says so and
    the worker tries again after the pauses of ``backoff`` (with ``once`` it raises).
    ``housekeeping`` (pruning old SES events) is called once per pass; it decides itself
    how often to work.
    """
    campaigns.secret()
    stop = stop or threading.Event()
    date = None if issue_ref is None else campaigns.issue_date(issue_ref)
    summaries: list[SendSummary] = []
    outage = backoff or OutageBackoff()
    while not stop.is_set():
        try:
            if schedules is not None and date is None:
                start_scheduled(campaigns, schedules, warn=warn)
            if housekeeping is not None:
                housekeeping()
            _one_pass(campaigns, date, summaries, progress=progress, stop=stop,
                      report=report, warn=warn)
        except DatabaseError as error:
            if once:
                raise
            # Claims in flight are settled by the in-doubt policy when it is back; nothing
            # is sent meanwhile, so waiting loses nothing.
            delay = outage.failed()
            warn(f"worker: the database failed ({error}); trying again in {delay:g} s")
            stop.wait(delay)
            continue
        if outage.recovered():
            warn("worker: the database answers again; sending goes on")
        if once:
            break
        stop.wait(poll_seconds)
    return summaries


def _one_pass(
    campaigns: Campaigns, date: str | None, summaries: list[SendSummary], *,
    progress: ProgressFactory | None, stop: threading.Event,
    report: Callable[[SendSummary], None] | None, warn: Callable[[str], None],
) -> None:
    """Send each open campaign (only ``date``'s, when given) once; summaries appended."""
    store = campaigns.store
    for campaign in store.sending():
        if stop.is_set():
            break
        if date is not None and campaign.issue_date != date:
            continue
        try:
            issue = load_issue(_campaign_issue_path(campaign, campaigns.config.issues_dir))
        except IssueValidationError as error:
            # Left open: once the file is fixed, this or another worker sends it.
            first = error.problems[0] if error.problems else None
            warn(f"campaign {campaign.issue_date}: skipped; its issue file cannot be "
                 f"read: {first or error}")
            continue
        try:
            check_unchanged(campaign, issue)
        except CampaignError as error:
            # Every worker would stumble on it: pause until an operator decides.
            store.pause(campaign.id, str(error))
            summary = summarize(store, campaigns.events, campaign.id, None, 0)
            summaries.append(summary)
            if report is not None:
                report(summary)
            continue
        summary = campaigns.process(campaign.id, issue, progress=progress, stop=stop)
        summaries.append(summary)
        if report is not None and eventful(summary):
            report(summary)


def start_scheduled(
    campaigns: Campaigns, schedules: Schedules, *, warn: Callable[[str], None] = log.warning
) -> list[str]:
    """Start the campaign of each due schedule (the snapshot; sending is left to the
    worker's loop); the dates started.

    ``take_due`` hands each schedule to one caller, so workers sharing a database never
    start one twice. A schedule whose issue fails preflight (or cannot be started for any
    other reason) is not sent: one line to ``warn`` and an audit entry by ``worker`` say
    why, and the schedule stays started, so it is not tried again on every pass; it is
    sent once an editor schedules it again (or runs ``newsletter send DATE``).
    """
    started: list[str] = []
    for due in schedules.take_due():
        date = due.issue_date
        try:
            detail = _start(campaigns, due)
        except DatabaseError:
            raise  # an outage, not this schedule's fault: the worker waits and tries again
        except NewsletterError as error:
            reason = str(error)
            warn(f"scheduled send {date}: not started: {reason}\nTo send it once fixed, "
                 f"schedule it again from the desk, or run `newsletter send {date}`.")
            _audit(schedules, "scheduled send failed", date, reason, warn)
            continue
        log.info("scheduled send %s: %s", date, detail)
        _audit(schedules, "started scheduled send", date, detail, warn)
        started.append(date)
    return started


def _start(campaigns: Campaigns, due: DueSchedule) -> str:
    """Snapshot the campaign of a due schedule; what was done, for the audit log."""
    existing = campaigns.store.get(due.issue_date)
    if existing is not None:
        # `send` or the desk's "Send now" came first: the normal rules apply to it.
        return f"its campaign was already started ({existing.status}); nothing more to start"
    day = weekly_day(due.issue_date)
    # Issue 21: a scheduled weekly edition is planned as the week's best of its day.
    plan = (plan_weekly(campaigns, day) if day is not None
            else campaigns.plan(_schedule_ref(due, campaigns.config.issues_dir)))
    if plan.date != due.issue_date:
        raise CampaignError(f"{plan.path} is the issue of {plan.date}, not of {due.issue_date}")
    summary = campaigns.send(plan, enqueue_only=True)
    return f"campaign started: {summary.counts.total:,} deliveries"


def _schedule_ref(due: DueSchedule, issues_dir: Path) -> str:
    # The file the desk scheduled, on the machine that serves the desk; a worker on another
    # machine reads its own NEWSLETTER_ISSUES_DIR/DATE.yaml.
    recorded = Path(due.issue_path)
    if due.issue_path and recorded.exists():
        return str(recorded)
    return str(issues_dir / file_name(due.issue_date))


def _audit(schedules: Schedules, action: str, date: str, detail: str,
           warn: Callable[[str], None]) -> None:
    try:
        schedules.audit(SYSTEM_ACTOR, action, date, detail)
    except StoreError as error:  # said, and the worker goes on: the send matters more
        warn(f"scheduled send {date}: the audit log could not be written: {error}")


def _campaign_issue_path(campaign: Campaign, issues_dir: Path) -> Path:
    # The path recorded by the machine that started the campaign; another machine may keep
    # its issues elsewhere, so fall back to this one's NEWSLETTER_ISSUES_DIR.
    recorded = Path(campaign.issue_path)
    if recorded.exists():
        return recorded
    day = weekly_day(campaign.issue_date)
    if day is not None:
        return weekly_path(issues_dir, day)
    return issues_dir / file_name(campaign.issue_date)
