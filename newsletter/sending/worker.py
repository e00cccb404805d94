"""``worker``: send every open campaign, alongside other workers sharing the database."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from newsletter.errors import CampaignError, IssueValidationError
from newsletter.issues.files import file_name
from newsletter.issues.loader import load_issue
from newsletter.model.campaigns import Campaign
from newsletter.sending.campaign import Campaigns, ProgressFactory, check_unchanged
from newsletter.sending.report import SendSummary, eventful, summarize

log = logging.getLogger(__name__)


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
) -> list[SendSummary]:
    """Send every campaign in state ``sending`` (or only ``issue_ref``'s) until stopped.

    With ``once``, each open campaign is worked through once and the function returns.
    Other workers on other machines may work on the same campaigns at the same time. A
    campaign whose issue file cannot be read is skipped, with one line to ``warn`` saying
    why; the others are sent.
    """
    campaigns.secret()
    stop = stop or threading.Event()
    date = None if issue_ref is None else campaigns.issue_date(issue_ref)
    store = campaigns.store
    summaries: list[SendSummary] = []
    while not stop.is_set():
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
        if once:
            break
        stop.wait(poll_seconds)
    return summaries


def _campaign_issue_path(campaign: Campaign, issues_dir: Path) -> Path:
    # The path recorded by the machine that started the campaign; another machine may keep
    # its issues elsewhere, so fall back to this one's NEWSLETTER_ISSUES_DIR.
    recorded = Path(campaign.issue_path)
    if recorded.exists():
        return recorded
    return issues_dir / file_name(campaign.issue_date)
