"""``worker``: send every open campaign, alongside other workers sharing the database."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from newsletter import wiring
from newsletter.errors import CampaignError, IssueValidationError
from newsletter.issues.files import file_name
from newsletter.issues.loader import load_issue
from newsletter.model.campaigns import Campaign
from newsletter.sending.campaign import (
    ProgressFactory,
    check_unchanged,
    issue_date,
    process_campaign,
)
from newsletter.sending.report import SendSummary, eventful, summarize
from newsletter.settings import Settings
from newsletter.store.campaigns import CampaignStore
from newsletter.transports import Transport

log = logging.getLogger(__name__)


def run_worker(
    settings: Settings,
    *,
    issue_ref: str | None = None,
    once: bool = False,
    poll_seconds: float = 10.0,
    progress: ProgressFactory | None = None,
    stop: threading.Event | None = None,
    transport: Transport | None = None,
    report: Callable[[SendSummary], None] | None = None,
    warn: Callable[[str], None] = log.warning,
) -> list[SendSummary]:
    """Send every campaign in state ``sending`` (or only ``issue_ref``'s) until stopped.

    With ``once``, each open campaign is worked through once and the function returns.
    Other workers on other machines may work on the same campaigns at the same time. A
    campaign whose issue file cannot be read is skipped, with one line to ``warn`` saying
    why; the others are sent.
    """
    settings.signing_key()
    stop = stop or threading.Event()
    date = None if issue_ref is None else issue_date(issue_ref, settings)
    transport = transport or wiring.transport(settings)
    summaries: list[SendSummary] = []
    with wiring.database(settings) as engine:
        store = CampaignStore(engine)
        while not stop.is_set():
            for campaign in store.sending():
                if stop.is_set():
                    break
                if date is not None and campaign.issue_date != date:
                    continue
                try:
                    issue = load_issue(_campaign_issue_path(campaign, settings))
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
                    summary = summarize(store, campaign.id, None, 0)
                    summaries.append(summary)
                    if report is not None:
                        report(summary)
                    continue
                summary = process_campaign(
                    settings, engine, campaign.id, issue,
                    transport=transport, progress=progress, stop=stop,
                )
                summaries.append(summary)
                if report is not None and eventful(summary):
                    report(summary)
            if once:
                break
            stop.wait(poll_seconds)
    return summaries


def _campaign_issue_path(campaign: Campaign, settings: Settings) -> Path:
    # The path recorded by the machine that started the campaign; another machine may keep
    # its issues elsewhere, so fall back to this one's NEWSLETTER_ISSUES_DIR.
    recorded = Path(campaign.issue_path)
    if recorded.exists():
        return recorded
    return settings.issues_dir / file_name(campaign.issue_date)
