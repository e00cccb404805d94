"""Sending an issue: ``send`` (snapshot, then deliver) and ``status``, over one campaign.

This module wires the campaign store, the worker registry, the renderer, the transport and
the delivery engine for one campaign; ``worker`` and ``send-test`` build on it. The engine
itself (``newsletter.sending.engine``) knows none of these concrete types.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine

from newsletter import wiring
from newsletter.clock import utc_now
from newsletter.editing.preflight import require as preflight
from newsletter.errors import CampaignError
from newsletter.issues.files import DATE, resolve
from newsletter.issues.loader import load_issue
from newsletter.issues.model import Issue
from newsletter.model.campaigns import Campaign
from newsletter.sending.engine import DeliveryRun
from newsletter.sending.messages import CampaignMessages
from newsletter.sending.pacing import AdaptiveRate, TokenBucket
from newsletter.sending.plan import ProgressSink, plan_concurrency, plan_rate
from newsletter.sending.report import SendSummary, left_out_line, summarize
from newsletter.settings import Settings
from newsletter.store.audience import count_left_out
from newsletter.store.campaigns import CampaignStore
from newsletter.store.events import EventStore, HealthLimits
from newsletter.store.reconcile import Reconciled, reconcile, requeue_failed
from newsletter.store.workers import HEARTBEAT_SECONDS, WorkerRegistry
from newsletter.transports import QuotaReporter, Transport

ProgressFactory = Callable[[str, int, int], AbstractContextManager[ProgressSink]]


# -- issues -----------------------------------------------------------------------------


def resolve_issue(ref: str, settings: Settings) -> Path:
    """An issue file from a path, or from a date (``NEWSLETTER_ISSUES_DIR/DATE.yaml``)."""
    return resolve(ref, settings.issues_dir)


def issue_date(ref: str, settings: Settings) -> str:
    """The date an issue reference names: ``ref`` itself when it is a date, else its file's."""
    return ref if DATE.fullmatch(ref) else load_issue(resolve_issue(ref, settings)).date.isoformat()


def issue_categories(issue: Issue) -> list[str]:
    """The categories that have at least one paper in the issue (what readers can match)."""
    return sorted({paper.category for paper in issue.papers})


# -- send -------------------------------------------------------------------------------


@dataclass
class SendPlan:
    """What ``send`` is about to do, for the confirmation question."""

    issue: Issue
    path: Path
    campaign: Campaign | None
    recipients: int  # a new campaign: who the snapshot would include; else deliveries left
    left_out: int = 0  # a new campaign: active subscribers whose categories have no paper
    warnings: list[str] = field(default_factory=list)  # from the preflight checks

    @property
    def date(self) -> str:
        return self.issue.date.isoformat()

    def question(self) -> str:
        if self.campaign is None:
            note = f" ({left_out_line(self.left_out)})" if self.left_out else ""
            return f"Send {self.date} to {self.recipients:,} subscribers?{note}"
        return (
            f"Continue sending {self.date} ({self.campaign.status}): "
            f"{self.recipients:,} of {self.campaign.total:,} deliveries left?"
        )


def content_fingerprint(issue: Issue) -> str:
    """sha256 of the issue's validated content: comments and layout of the file do not count."""
    return hashlib.sha256(issue.model_dump_json().encode("utf-8")).hexdigest()


def check_unchanged(campaign: Campaign, issue: Issue) -> None:
    """Raise :class:`CampaignError` if the issue's content changed since the snapshot.

    Part of the list would otherwise get one newsletter and the rest another.
    """
    if campaign.content_sha256 and campaign.content_sha256 != content_fingerprint(issue):
        raise CampaignError(
            f"the issue {campaign.issue_date} was edited after its campaign started; the "
            "readers already sent got the old version. Undo the edit, or run "
            "`newsletter send ISSUE --accept-changes` to send the rest the new version."
        )


def plan_send(settings: Settings, ref: str) -> SendPlan:
    """Check the issue and count who it would go to.

    Raises ``IssueValidationError`` or ``PreflightError``; preflight warnings are in the plan.
    """
    path = resolve_issue(ref, settings)
    warnings = preflight(path, settings)
    issue = load_issue(path)
    with wiring.database(settings) as engine:
        store = CampaignStore(engine)
        campaign = store.get(issue.date.isoformat())
        if campaign is None:
            cats = issue_categories(issue)
            return SendPlan(issue, path, None, store.count_recipients(cats),
                            count_left_out(engine, cats), warnings)
        counts = store.counts(campaign.id)
        return SendPlan(issue, path, campaign, counts.open + counts.in_doubt, warnings=warnings)


def send_issue(
    settings: Settings,
    ref: str,
    *,
    progress: ProgressFactory | None = None,
    enqueue_only: bool = False,
    stop: threading.Event | None = None,
    transport: Transport | None = None,
    accept_changes: bool = False,
    retry_failed: bool = False,
) -> SendSummary:
    """Start (snapshot) or continue the campaign for an issue, and send what is left.

    Raises ``ConfigurationError`` without a usable secret key, ``IssueValidationError`` for
    a bad issue file, ``PreflightError`` when the preflight checks find an error (nothing
    is sent), ``RenderError`` when a variant cannot be rendered, and
    ``CampaignError`` when the issue was edited since the campaign started (unless
    ``accept_changes``). A paused campaign is resumed. With ``retry_failed`` the failed
    deliveries are queued again first (after the operator fixed their cause). With
    ``enqueue_only`` the snapshot is taken and left for workers.
    """
    settings.signing_key()
    path = resolve_issue(ref, settings)
    preflight(path, settings)
    issue = load_issue(path)
    with wiring.database(settings) as engine:
        store = CampaignStore(engine)
        fingerprint = content_fingerprint(issue)
        categories = issue_categories(issue)
        campaign, created = store.start(issue.date.isoformat(), str(path), categories, fingerprint)
        if not created and accept_changes and campaign.content_sha256 != fingerprint:
            store.accept_content(campaign.id, fingerprint)
        elif not created:
            check_unchanged(campaign, issue)
        left_out = count_left_out(engine, categories) if created else 0
        requeued = requeue_failed(engine, campaign.id) if retry_failed else 0
        if enqueue_only:
            return SendSummary(campaign, store.counts(campaign.id), "enqueued", left_out=left_out)
        if campaign.status == "paused":
            store.set_status(campaign.id, "sending")
        summary = process_campaign(
            settings, engine, campaign.id, issue,
            transport=transport or wiring.transport(settings), progress=progress, stop=stop,
        )
        summary.left_out = left_out
        summary.requeued_failed = requeued
        return summary


def process_campaign(
    settings: Settings,
    engine: Engine,
    campaign_id: int,
    issue: Issue,
    *,
    transport: Transport,
    progress: ProgressFactory | None = None,
    stop: threading.Event | None = None,
) -> SendSummary:
    """Settle stale claims, then send the campaign's claimable deliveries from this process."""
    store = CampaignStore(engine)
    registry = WorkerRegistry(engine)
    stop = stop or threading.Event()
    worker_id = registry.register()
    policy = settings.chosen_in_doubt_policy()
    waiting = policy == "reconcile"
    try:
        recovered = store.recover(campaign_id, registry.live(), policy)
        reconciled = settle_in_doubt(settings, engine, campaign_id)
        campaign = store.by_id(campaign_id)
        assert campaign is not None
        if campaign.status == "done" and store.counts(campaign_id).open:
            store.set_status(campaign_id, "sending")  # in-doubt messages were re-queued
        events(settings, engine).pause_if_unhealthy(campaign_id)
        counts = store.counts(campaign_id)
        if counts.open == 0:
            store.finish_if_complete(campaign_id, waiting)
            return summarize(store, campaign_id, None, recovered, reconciled)
        quota = transport.quota() if isinstance(transport, QuotaReporter) else None
        rate = plan_rate(settings.max_send_rate, quota, settings.send_rate_headroom)
        concurrency = plan_concurrency(rate, settings.send_concurrency)
        messages = CampaignMessages.render(issue, store.variants(campaign_id), settings,
                                           campaign_id)
        run = DeliveryRun(
            store, transport, messages,
            AdaptiveRate(TokenBucket(rate, wait=stop.wait), rate),
            campaign_id=campaign_id,
            worker_id=worker_id,
            concurrency=concurrency,
            campaign_tag=issue.date.isoformat(),
            in_doubt_policy=policy,
            daily_budget=quota.remaining_24_hours if quota is not None else None,
            heartbeat=lambda: registry.heartbeat(worker_id, campaign_id),
            heartbeat_seconds=HEARTBEAT_SECONDS,
            stop=stop,
        )
        label = issue.date.isoformat()
        if progress is None:
            result = run.run()
        else:
            with progress(label, counts.total, counts.total - counts.open) as sink:
                run.progress = sink
                result = run.run()
        if result.paused_reason is None and result.error is None:
            events(settings, engine).pause_if_unhealthy(campaign_id)
            store.finish_if_complete(campaign_id, waiting)
        summary = summarize(store, campaign_id, result, recovered, reconciled)
        summary.rate, summary.concurrency = rate, concurrency
        if result.stopped_reason is None and result.paused_reason is None and stop.is_set():
            summary.outcome = "interrupted" if summary.outcome != "done" else "done"
        return summary
    finally:
        registry.unregister(worker_id)


# -- status -----------------------------------------------------------------------------


def campaign_status(settings: Settings, ref: str) -> SendSummary:
    """The campaign of an issue (a date or an issue file); ``CampaignError`` if none.

    Under the reconcile policy the in-doubt deliveries are decided first from the events
    received so far.
    """
    date = issue_date(ref, settings)
    with wiring.database(settings) as engine:
        store = CampaignStore(engine)
        campaign = store.get(date)
        if campaign is None:
            raise CampaignError(f"no campaign for {date}; start one with: newsletter send {ref}")
        reconciled = settle_in_doubt(settings, engine, campaign.id)
        if reconciled.requeued and campaign.status == "done":
            store.set_status(campaign.id, "sending")
        return summarize(store, campaign.id, None, 0, reconciled)


# -- SES events -------------------------------------------------------------------------


def events(settings: Settings, engine: Engine) -> EventStore:
    """The event store with the configured health limits."""
    return EventStore(engine, HealthLimits(
        settings.max_bounce_rate, settings.max_complaint_rate, settings.soft_bounce_limit
    ))


def settle_in_doubt(settings: Settings, engine: Engine, campaign_id: int) -> Reconciled:
    """Under the reconcile policy, decide in-doubt deliveries from SES's events."""
    if settings.chosen_in_doubt_policy() != "reconcile":
        return Reconciled()
    return reconcile(engine, campaign_id, utc_now(), dt.timedelta(seconds=settings.reconcile_after))


