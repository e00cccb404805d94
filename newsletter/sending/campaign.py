"""Sending an issue over one campaign: plan it, send the plan, work a campaign, its status.

:class:`Campaigns` holds the parts ``wiring`` built (the stores, the renderer, the
transport, the values of :class:`SendConfig`); ``send`` is ``plan`` then ``send``: the plan
checks the issue once and renders each variant once, and sending consumes it. ``worker``
and ``send-test`` build on the same object. The engine (``sending.engine``) sees only
protocols and values.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path

from newsletter.editing.preflight import IssueSource, PreflightConfig, Report, preflight
from newsletter.errors import CampaignError, ConfigurationError
from newsletter.issues.files import date_ref, resolve
from newsletter.issues.loader import load_issue
from newsletter.issues.model import Issue
from newsletter.mail.message import Sender
from newsletter.model.campaigns import Campaign
from newsletter.model.editions import weekly_day
from newsletter.rendering.renderer import RenderedIssue, Renderer
from newsletter.sending.batch import BatchRun
from newsletter.sending.bulk_messages import BulkMessages
from newsletter.sending.config import SendConfig
from newsletter.sending.engine import DeliveryRun
from newsletter.sending.messages import CampaignMessages, render_missing
from newsletter.sending.pacing import AdaptiveRate, TokenBucket
from newsletter.sending.personal import Audience, PersonalMessages
from newsletter.sending.plan import (
    ProgressSink,
    RetryPolicy,
    RunConfig,
    plan_concurrency,
    plan_rate,
)
from newsletter.sending.report import IN_DOUBT_SHOWN, SendSummary, left_out_line, summarize
from newsletter.sending.shared_rate import SharedRate
from newsletter.store.campaigns import CampaignStore
from newsletter.store.events import EventStore
from newsletter.store.reconcile import Reconciled
from newsletter.store.workers import HEARTBEAT_SECONDS, WorkerRegistry
from newsletter.transports import QuotaReporter, Transport
from newsletter.transports.bulk import BulkTransport

ProgressFactory = Callable[[str, int, int], AbstractContextManager[ProgressSink]]


def issue_categories(issue: Issue) -> list[str]:
    """The categories that have at least one paper in the issue (what readers can match)."""
    return sorted({paper.category for paper in issue.papers})


def content_fingerprint(issue: Issue) -> str:
    """sha256 of the issue's validated content: comments and layout of the file do not count."""
    return hashlib.sha256(issue.model_dump_json().encode("utf-8")).hexdigest()


def check_unchanged(campaign: Campaign, issue: Issue) -> None:
    """Raise :class:`CampaignError` if the issue's content changed since the snapshot.

    Part of the list would otherwise get one newsletter and the rest another.
    """
    if not campaign.content_sha256 or campaign.content_sha256 == content_fingerprint(issue):
        return
    date = campaign.issue_date
    if campaign.status == "done":
        raise CampaignError(
            f"the issue {date} was edited after its campaign finished: every reader already "
            "got the version that was sent, so there is nothing left to send it to"
        )
    raise CampaignError(
        f"the issue {date} was edited after its campaign started; the readers already sent "
        "got the old version. Undo the edit, or run "
        f"`newsletter send {date} --accept-changes` to send the rest the new version."
    )


@dataclass
class SendPlan:
    """What ``send`` is about to do: the checked issue, its report, the variants rendered.

    ``recipients`` is, for a new campaign, who the snapshot would include, else the
    deliveries left; ``left_out`` (new campaigns) the active readers with nothing in it.
    """

    issue: Issue
    path: Path
    campaign: Campaign | None
    recipients: int
    report: Report
    rendered: dict[str, RenderedIssue] = field(default_factory=dict)
    left_out: int = 0
    # Issue 21: papers per email, and who waits for a weekly edition or a pause's end.
    audience: Audience = field(default_factory=Audience)

    @property
    def date(self) -> str:
        return self.issue.date.isoformat()

    @property
    def warnings(self) -> list[str]:
        """The preflight warnings, one line each."""
        return [str(w) for w in self.report.warnings]

    def question(self) -> str:
        if self.campaign is None:
            note = f" ({left_out_line(self.left_out)})" if self.left_out else ""
            extra = "".join(f"\n  {line}" for line in self.audience.lines())
            return f"Send {self.date} to {self.recipients:,} subscribers?{note}{extra}"
        return (
            f"Continue sending {self.date} ({self.campaign.status}): "
            f"{self.recipients:,} of {self.campaign.total:,} deliveries left?"
        )


@dataclass
class Campaigns:
    """Sending issues with the parts ``wiring.campaigns`` built, over one database.

    ``transport`` is called once per run that sends (building an SES client is not free
    and ``status`` needs none).
    """

    config: SendConfig
    store: CampaignStore
    events: EventStore
    workers: WorkerRegistry
    renderer: Renderer
    sender: Sender
    checks: PreflightConfig
    transport: Callable[[], Transport]

    # -- issues ------------------------------------------------------------------------

    def resolve(self, ref: str) -> Path:
        """An issue file from a path, or from a date (``issues_dir/DATE.yaml``)."""
        return resolve(ref, self.config.issues_dir)

    def issue_date(self, ref: str) -> str:
        """The date an issue reference names: ``ref`` itself when it is a date, else its file's.

        ``IssueFileError`` when ``ref`` is written as a date but is none (2026-13-45).
        """
        date = date_ref(ref)
        return date if date is not None else load_issue(self.resolve(ref)).date.isoformat()

    def check(self, ref: str) -> Report:
        """The preflight report of an issue (read once, each variant rendered once)."""
        path = self.resolve(ref)
        return preflight(IssueSource.read(path), self.renderer, self.checks)

    def secret(self) -> str:
        """The signing key; :class:`ConfigurationError` when this object was built without."""
        if not self.config.secret:
            raise ConfigurationError("sending needs NEWSLETTER_SECRET_KEY")
        return self.config.secret

    # -- send ----------------------------------------------------------------------------

    def plan(self, ref: str) -> SendPlan:
        """Check the issue once, count who it would go to and render what they would get.

        Raises ``PreflightError`` (the issue file is invalid or a check found an error;
        the warnings are in the plan) or ``RenderError``.
        """
        report = self.check(ref)
        report.raise_for_errors()
        issue = report.issue
        assert issue is not None  # an invalid file is a preflight error
        campaign = self.store.get(issue.date.isoformat())
        if campaign is None:
            categories = issue_categories(issue)
            date = issue.date.isoformat()
            in_use = self.store.variant_counts(categories, date)
            plan = SendPlan(issue, report.path, None, sum(in_use.values()), report,
                            left_out=self.store.count_left_out(categories, date),
                            audience=Audience.of(in_use, *self.store.waiting_readers(date)))
            keys = list(in_use)
        else:
            counts = self.store.counts(campaign.id)
            plan = SendPlan(issue, report.path, campaign, counts.open + counts.in_doubt, report)
            keys = self.store.variants(campaign.id, unsent_only=True)
        plan.rendered = render_missing(self.renderer, issue, keys, report.rendered,
                                       self.config.size_limit_bytes)
        return plan

    def send(
        self,
        plan: SendPlan,
        *,
        progress: ProgressFactory | None = None,
        enqueue_only: bool = False,
        stop: threading.Event | None = None,
        accept_changes: bool = False,
        retry_failed: bool = False,
        resume: bool = False,
        max_bounce_rate: float | None = None,
        max_complaint_rate: float | None = None,
    ) -> SendSummary:
        """Start (snapshot) or continue the campaign of a plan, and send what is left.

        Raises ``CampaignError`` when the issue was edited since the campaign started
        (unless ``accept_changes``) and ``RenderError`` when a variant cannot be rendered.
        A paused campaign is resumed. With ``retry_failed`` the failed deliveries are
        queued again first (after the operator fixed their cause). With ``enqueue_only``
        the snapshot is taken and left for workers. A new campaign stores the health limits
        it runs under (``max_bounce_rate``, ``max_complaint_rate``, else the configured
        ones); given for an existing one, they replace its own. With ``resume`` there must
        be a campaign already (``CampaignError`` otherwise).
        """
        self.secret()
        issue, store = plan.issue, self.store
        if resume and store.get(plan.date) is None:
            raise CampaignError(f"no campaign for {plan.date} to resume; start one with: "
                                f"newsletter send {plan.date}")
        fingerprint = content_fingerprint(issue)
        categories = issue_categories(issue)
        campaign, created = store.start(plan.date, str(plan.path), categories, fingerprint)
        if not created and accept_changes and campaign.content_sha256 != fingerprint:
            store.accept_content(campaign.id, fingerprint)
        elif not created:
            check_unchanged(campaign, issue)
        limits = self.events.limits
        store.set_limits(
            campaign.id,
            max_bounce_rate or (limits.max_bounce_rate if created else None),
            max_complaint_rate or (limits.max_complaint_rate if created else None),
        )
        left_out = store.count_left_out(categories, plan.date) if created else 0
        requeued = store.requeue_failed(campaign.id) if retry_failed else 0
        if enqueue_only:
            return SendSummary(campaign, store.counts(campaign.id), "enqueued", left_out=left_out)
        if campaign.status == "paused":
            store.resume(campaign.id)
        summary = self.process(campaign.id, issue, progress=progress, stop=stop,
                               rendered=plan.rendered)
        summary.left_out = left_out
        summary.requeued_failed = requeued
        if created:
            summary.audience = plan.audience.lines()
        return summary

    def process(
        self,
        campaign_id: int,
        issue: Issue,
        *,
        progress: ProgressFactory | None = None,
        stop: threading.Event | None = None,
        rendered: dict[str, RenderedIssue] | None = None,
    ) -> SendSummary:
        """Settle stale claims, then send the campaign's claimable deliveries from here.

        Variants already in ``rendered`` are not rendered again.
        """
        store, registry, config = self.store, self.workers, self.config
        stop = stop or threading.Event()
        worker_id = registry.register()
        policy = config.in_doubt_policy
        waiting = policy == "reconcile"
        try:
            recovered = store.recover(campaign_id, registry.live(), policy)
            reconciled = self.settle_in_doubt(campaign_id)
            campaign = store.by_id(campaign_id)
            assert campaign is not None
            if campaign.status == "done" and store.counts(campaign_id).open:
                store.set_status(campaign_id, "sending")  # in-doubt messages were re-queued
            self.events.pause_if_unhealthy(campaign_id)
            counts = store.counts(campaign_id)
            if counts.open == 0:
                store.finish_if_complete(campaign_id, waiting)
                return summarize(store, self.events, campaign_id, None, recovered, reconciled)
            transport = self.transport()
            quota = transport.quota() if isinstance(transport, QuotaReporter) else None
            rate = plan_rate(config.max_send_rate, quota, config.rate_headroom)
            # Issue 21: readers whose follows match papers get their "For you" block, spliced
            # per reader into single messages, or as template data of their bulk entry.
            follows = store.follows_of(campaign_id)
            # issue #23: a bulk transport sends up to max_entries readers per call.
            bulk = transport if isinstance(transport, BulkTransport) else None
            per_call = bulk.max_entries if bulk is not None else 1
            concurrency = plan_concurrency(rate / per_call, config.concurrency)
            label = campaign.issue_date  # the issue's date; a weekly edition's own key
            keys = store.variants(campaign_id, unsent_only=True)
            # Issue 21: a weekly edition's "view in browser" opens /weekly/DATE.
            renderer = (self.renderer.for_section("weekly")
                        if weekly_day(campaign.issue_date) else self.renderer)
            variants = render_missing(renderer, issue, keys,
                                      rendered or {}, config.size_limit_bytes)
            run_config = RunConfig(
                campaign_id, worker_id, concurrency, campaign_tag=label,
                in_doubt_policy=policy,
                daily_budget=quota.remaining_24_hours if quota is not None else None,
                heartbeat_seconds=HEARTBEAT_SECONDS,
                retry=RetryPolicy(window=config.retry_seconds, brake_after=config.brake_after),
            )

            def heartbeat() -> int:
                return registry.heartbeat(worker_id, campaign_id)

            messages = CampaignMessages.encode(variants, self.sender, label, self.secret(),
                                               campaign_id)
            personal = PersonalMessages(messages, issue, variants, renderer,
                                        self.sender, label, follows)
            if bulk is None:
                # One message at a time, its token from the schedule bulk workers use.
                shared = SharedRate(TokenBucket(rate, wait=stop.wait), rate, registry.reserve,
                                    stop.wait)
                run: DeliveryRun | BatchRun = DeliveryRun(
                    store, transport, personal, shared, run_config,
                    heartbeat=heartbeat, stop=stop,
                )
            else:
                run = BatchRun(
                    store, bulk,
                    BulkMessages.for_campaign(personal, self.sender, label, blocks=bool(follows)),
                    AdaptiveRate(TokenBucket(rate, wait=stop.wait), rate), run_config,
                    heartbeat=heartbeat, stop=stop, pace=registry.reserve,
                )
            if progress is None:
                result = run.run()
            else:
                with progress(label, counts.total, counts.total - counts.open) as sink:
                    run.progress = sink
                    result = run.run()
            if result.paused_reason is None and result.error is None:
                self.events.pause_if_unhealthy(campaign_id)
                store.finish_if_complete(campaign_id, waiting)
            summary = summarize(store, self.events, campaign_id, result, recovered, reconciled)
            summary.rate, summary.concurrency = rate, concurrency
            if result.stopped_reason is None and result.paused_reason is None and stop.is_set():
                summary.outcome = "interrupted" if summary.outcome != "done" else "done"
            return summary
        finally:
            registry.unregister(worker_id)

    # -- status --------------------------------------------------------------------------

    def status(self, ref: str, *, in_doubt_limit: int | None = IN_DOUBT_SHOWN) -> SendSummary:
        """The campaign of an issue (a date or an issue file); ``CampaignError`` if none.

        Under the reconcile policy the in-doubt deliveries are decided first from the
        events received so far. The summary names up to ``in_doubt_limit`` in-doubt
        deliveries (None: every one).
        """
        # A weekly edition's campaign is named by its key (W20261206, issue 21).
        date = ref if weekly_day(ref) else self.issue_date(ref)
        campaign = self.store.get(date)
        if campaign is None:
            raise CampaignError(f"no campaign for {date}; start one with: newsletter send {ref}")
        reconciled = self.settle_in_doubt(campaign.id)
        if reconciled.requeued and campaign.status == "done":
            self.store.set_status(campaign.id, "sending")
        summary = summarize(self.store, self.events, campaign.id, None, 0, reconciled,
                            in_doubt_limit)
        summary.audience = Audience.of(self.store.deliveries_by_variant(campaign.id)).lines()
        return summary

    def settle_in_doubt(self, campaign_id: int) -> Reconciled:
        """Under the reconcile policy, decide in-doubt deliveries from SES's events."""
        if self.config.in_doubt_policy != "reconcile":
            return Reconciled()
        return self.store.reconcile(campaign_id, self.config.reconcile_after)
