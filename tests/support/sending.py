"""Sending as the CLI does it, through the composition root, for tests that start from
``Settings``: plan then send, status, worker, send-test."""

from __future__ import annotations

from typing import Any

from newsletter import wiring
from newsletter.issues.model import Issue
from newsletter.sending.campaign import SendPlan
from newsletter.sending.editor_send import TestSend
from newsletter.sending.editor_send import send_test as editor_send_test
from newsletter.sending.messages import CampaignMessages, render_missing
from newsletter.sending.report import SendSummary
from newsletter.sending.worker import run_worker as worker_run
from newsletter.settings import Settings
from newsletter.transports import Transport


def plan_send(settings: Settings, ref: str) -> SendPlan:
    """``newsletter send``'s plan: the checked issue, who it goes to, the variants made."""
    with wiring.campaigns(settings) as campaigns:
        return campaigns.plan(ref)


def send_issue(
    settings: Settings, ref: str, *, transport: Transport | None = None, **options: Any
) -> SendSummary:
    """``newsletter send ISSUE --yes``: plan, then send the plan."""
    with wiring.campaigns(settings, transport) as campaigns:
        return campaigns.send(campaigns.plan(ref), **options)


def campaign_status(settings: Settings, ref: str) -> SendSummary:
    """``newsletter status``."""
    with wiring.campaigns(settings, signing=False) as campaigns:
        return campaigns.status(ref)


def run_worker(
    settings: Settings, *, transport: Transport | None = None, **options: Any
) -> list[SendSummary]:
    """``newsletter worker``."""
    with wiring.campaigns(settings, transport) as campaigns:
        return worker_run(campaigns, **options)


def send_test(
    settings: Settings, ref: str, to: list[str] | None = None, *,
    transport: Transport | None = None, **options: Any,
) -> list[TestSend]:
    """``newsletter send-test``."""
    with wiring.campaigns(settings, transport) as campaigns:
        return editor_send_test(campaigns, ref, to, **options)


def campaign_messages(
    settings: Settings, issue: Issue, variant_keys: list[str], campaign_id: int
) -> CampaignMessages:
    """The messages of a campaign, each variant rendered and encoded once."""
    rendered = render_missing(wiring.renderer(settings), issue, variant_keys, {},
                              settings.size_limit_bytes)
    return CampaignMessages.encode(rendered, wiring.sender(settings), issue.date.isoformat(),
                                   settings.signing_key(), campaign_id)
