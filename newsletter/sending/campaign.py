"""Sending an issue: the pieces put together for ``send``, ``status``, ``send-test``, ``worker``.

This module wires the campaign store, the worker registry, the renderer, the transport and
the delivery engine; each function here is what one CLI command calls. The engine
itself (``newsletter.sending.engine``) knows none of these concrete types.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import threading
import time
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from email.utils import format_datetime
from pathlib import Path
from typing import Literal

from sqlalchemy import Engine

from newsletter.errors import CampaignError, ConfigurationError, TransportError
from newsletter.issues.build import renderer_from, sender_from
from newsletter.issues.model import Issue, load_issue
from newsletter.issues.preflight import require as preflight
from newsletter.mail.message import MessageTemplate, Recipient, Sender
from newsletter.rendering.renderer import RenderedIssue, Variant
from newsletter.sending.engine import (
    DeliveryRun,
    ProgressSink,
    RunResult,
    plan_concurrency,
    plan_rate,
)
from newsletter.sending.pacing import AdaptiveRate, TokenBucket
from newsletter.settings import Settings
from newsletter.store.audience import count_left_out
from newsletter.store.campaigns import Campaign, CampaignStore, Claim, DeliveryCounts
from newsletter.store.db import open_database
from newsletter.store.workers import HEARTBEAT_SECONDS, WorkerRegistry
from newsletter.tokens import Purpose, make_token
from newsletter.transports import QuotaReporter, Transport, make_transport

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# Test messages carry tokens for this subscriber id, the largest a token can name. Ids are
# handed out from 1 upwards and never reach it, so a test message's unsubscribe link can
# never act on a real subscriber (the web app answers it like any unknown subscriber).
TEST_SUBSCRIBER_ID = 16**12 - 1

Outcome = Literal["done", "paused", "incomplete", "interrupted", "enqueued", "error"]
EXIT_CODES: dict[Outcome, int] = {
    "done": 0, "enqueued": 0, "error": 1, "paused": 3, "incomplete": 3, "interrupted": 3,
}
ProgressFactory = Callable[[str, int, int], AbstractContextManager[ProgressSink]]


# -- issues and secrets -----------------------------------------------------------------


def resolve_issue(ref: str, settings: Settings) -> Path:
    """An issue file from a path, or from a date (``NEWSLETTER_ISSUES_DIR/DATE.yaml``)."""
    path = Path(ref)
    if not path.exists() and _DATE.match(ref):
        return settings.issues_dir / f"{ref}.yaml"
    return path


def issue_date(ref: str, settings: Settings) -> str:
    """The date an issue reference names: ``ref`` itself when it is a date, else its file's."""
    return ref if _DATE.match(ref) else load_issue(resolve_issue(ref, settings)).date.isoformat()


def issue_categories(issue: Issue) -> list[str]:
    """The categories that have at least one paper in the issue (what readers can match)."""
    return sorted({paper.category for paper in issue.papers})


# -- messages ---------------------------------------------------------------------------


class CampaignMessages:
    """Builds each claimed delivery's message from its variant's pre-encoded template.

    Each variant is rendered and encoded once; per recipient only the address, the two
    tokens and the delivery id ``{campaign_id}.{delivery_id}`` are spliced in. The Date
    header is formatted at most once a second.
    """

    def __init__(
        self,
        templates: dict[str, MessageTemplate],
        secret: str,
        campaign_id: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.templates = templates
        self.secret = secret
        self.campaign_id = campaign_id
        self.clock = clock
        self._date: tuple[int, str] = (-1, "")

    @classmethod
    def render(
        cls,
        issue: Issue,
        variant_keys: Iterable[str],
        settings: Settings,
        campaign_id: int,
        sender: Sender | None = None,
    ) -> CampaignMessages:
        """Render every variant in ``variant_keys`` (raises ``RenderError``) and encode it."""
        rendered = render_variants(issue, variant_keys, settings)
        sender = sender or sender_from(settings)
        label = issue.date.isoformat()
        templates = {key: MessageTemplate(r, sender, label) for key, r in rendered.items()}
        return cls(templates, settings.signing_key(), campaign_id)

    def date(self) -> str:
        now = self.clock()
        second = int(now)
        cached = self._date
        if cached[0] != second:
            cached = (second, format_datetime(dt.datetime.fromtimestamp(second, dt.UTC)))
            self._date = cached
        return cached[1]

    def build(self, claim: Claim) -> bytes:
        template = self.templates.get(claim.variant)
        if template is None:
            raise CampaignError(f"no rendered variant {claim.variant!r} for delivery {claim.id}")
        recipient = Recipient(
            address=claim.email,
            delivery_id=f"{self.campaign_id}.{claim.id}",
            unsubscribe_token=make_token(self.secret, Purpose.UNSUBSCRIBE, claim.subscriber_id),
            preferences_token=make_token(self.secret, Purpose.PREFERENCES, claim.subscriber_id),
        )
        return template.build(recipient, self.date())


def render_variants(
    issue: Issue, variant_keys: Iterable[str], settings: Settings
) -> dict[str, RenderedIssue]:
    """Each distinct variant rendered once, keyed by ``Variant.key``."""
    variants = [Variant.from_key(key) for key in set(variant_keys)]
    rendered = renderer_from(settings).render_all(issue, variants, settings.size_limit_bytes)
    return {variant.key: r for variant, r in rendered.items()}


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


@dataclass
class SendSummary:
    """The state of a campaign after a run, and what the run did."""

    campaign: Campaign
    counts: DeliveryCounts
    outcome: Outcome
    run: RunResult | None = None
    recovered: int = 0
    in_doubt: list[tuple[int, str, str]] = field(default_factory=list)
    rate: float | None = None
    concurrency: int | None = None
    left_out: int = 0  # counted when this run took the snapshot, else 0 (not known)

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.outcome]

    def lines(self) -> list[str]:
        c, date = self.counts, self.campaign.issue_date
        out = [
            f"campaign {date}: {self.outcome}; {c.total:,} deliveries: {c.sent:,} sent, "
            f"{c.failed:,} failed, {c.in_doubt:,} in doubt, {c.queued:,} queued"
            f"{f' ({c.deferred:,} deferred)' if c.deferred else ''}, {c.sending:,} sending"
        ]
        if self.run is not None:
            r = self.run
            speed = f", {r.sent / r.elapsed:.1f}/s" if r.elapsed > 0 and r.sent else ""
            out.append(
                f"this run: {r.sent:,} sent, {r.failed:,} failed, {r.in_doubt:,} in doubt, "
                f"{r.deferred:,} deferred, {r.throttled:,} throttled in {r.elapsed:.1f} s{speed}"
                + (f" (rate {self.rate:.1f}/s, {self.concurrency} threads)" if self.rate else "")
            )
        if self.left_out:
            out.append(left_out_line(self.left_out))
        if self.recovered:
            out.append(f"{self.recovered:,} deliveries left in flight by a stopped sender "
                       "were settled by the in-doubt policy")
        if self.campaign.status == "paused":
            out.append(f"paused: {self.campaign.paused_reason}")
        if self.run is not None and self.run.stopped_reason and self.outcome != "paused":
            out.append(f"stopped: {self.run.stopped_reason}")
        if self.run is not None and self.run.error:
            out.append(f"error: {self.run.error}")
        if c.in_doubt:
            out.append(
                f"in doubt ({c.in_doubt:,}; may or may not have been delivered, not resent "
                "under NEWSLETTER_IN_DOUBT_POLICY=skip):"
            )
            out += [f"  delivery {i}: {email}" for i, email, _ in self.in_doubt]
            if c.in_doubt > len(self.in_doubt):
                out.append(f"  ... and {c.in_doubt - len(self.in_doubt):,} more")
        return out


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


def left_out_line(count: int) -> str:
    """Why ``count`` active subscribers are not among an issue's recipients."""
    who = "subscriber chose" if count == 1 else "subscribers chose"
    return (
        f"{count:,} active {who} only categories with no paper in this issue "
        "(they get nothing today)"
    )


def plan_send(settings: Settings, ref: str) -> SendPlan:
    """Check the issue and count who it would go to.

    Raises ``IssueValidationError`` or ``PreflightError``; preflight warnings are in the plan.
    """
    path = resolve_issue(ref, settings)
    warnings = preflight(path, settings)
    issue = load_issue(path)
    store = CampaignStore(open_database(settings.database_url))
    try:
        campaign = store.get(issue.date.isoformat())
        if campaign is None:
            cats = issue_categories(issue)
            return SendPlan(issue, path, None, store.count_recipients(cats),
                            count_left_out(store.engine, cats), warnings)
        counts = store.counts(campaign.id)
        return SendPlan(issue, path, campaign, counts.open + counts.in_doubt, warnings=warnings)
    finally:
        store.engine.dispose()


def send_issue(
    settings: Settings,
    ref: str,
    *,
    progress: ProgressFactory | None = None,
    enqueue_only: bool = False,
    stop: threading.Event | None = None,
    transport: Transport | None = None,
    accept_changes: bool = False,
) -> SendSummary:
    """Start (snapshot) or continue the campaign for an issue, and send what is left.

    Raises ``ConfigurationError`` without a usable secret key, ``IssueValidationError`` for
    a bad issue file, ``PreflightError`` when the preflight checks find an error (nothing
    is sent), ``RenderError`` when a variant cannot be rendered, and
    ``CampaignError`` when the issue was edited since the campaign started (unless
    ``accept_changes``). A paused campaign is resumed. With ``enqueue_only`` the snapshot
    is taken and left for workers.
    """
    settings.signing_key()
    path = resolve_issue(ref, settings)
    preflight(path, settings)
    issue = load_issue(path)
    engine = open_database(settings.database_url)
    try:
        store = CampaignStore(engine)
        fingerprint = content_fingerprint(issue)
        categories = issue_categories(issue)
        campaign, created = store.start(issue.date.isoformat(), str(path), categories, fingerprint)
        if not created and accept_changes and campaign.content_sha256 != fingerprint:
            store.accept_content(campaign.id, fingerprint)
        elif not created:
            check_unchanged(campaign, issue)
        left_out = count_left_out(engine, categories) if created else 0
        if enqueue_only:
            return SendSummary(campaign, store.counts(campaign.id), "enqueued", left_out=left_out)
        if campaign.status == "paused":
            store.set_status(campaign.id, "sending")
        summary = process_campaign(
            settings, engine, campaign.id, issue,
            transport=transport or make_transport(settings), progress=progress, stop=stop,
        )
        summary.left_out = left_out
        return summary
    finally:
        engine.dispose()


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
    try:
        recovered = store.recover(campaign_id, registry.live(), settings.in_doubt_policy)
        campaign = store.by_id(campaign_id)
        assert campaign is not None
        if campaign.status == "done" and store.counts(campaign_id).open:
            store.set_status(campaign_id, "sending")  # "resend" re-queued in-doubt messages
        counts = store.counts(campaign_id)
        if counts.open == 0:
            store.finish_if_complete(campaign_id)
            return _summary(store, campaign_id, None, recovered)
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
            in_doubt_policy=settings.in_doubt_policy,
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
            store.finish_if_complete(campaign_id)
        summary = _summary(store, campaign_id, result, recovered)
        summary.rate, summary.concurrency = rate, concurrency
        if result.stopped_reason is None and result.paused_reason is None and stop.is_set():
            summary.outcome = "interrupted" if summary.outcome != "done" else "done"
        return summary
    finally:
        registry.unregister(worker_id)


def _summary(
    store: CampaignStore, campaign_id: int, run: RunResult | None, recovered: int
) -> SendSummary:
    campaign = store.by_id(campaign_id)
    assert campaign is not None
    counts = store.counts(campaign_id)
    outcome: Outcome
    if run is not None and run.error:
        outcome = "error"
    elif campaign.status == "paused":
        outcome = "paused"
    elif campaign.status == "done":
        outcome = "done"
    else:
        outcome = "incomplete"
    return SendSummary(campaign, counts, outcome, run, recovered, store.in_doubt(campaign_id, 20))


# -- status -----------------------------------------------------------------------------


def campaign_status(settings: Settings, ref: str) -> SendSummary:
    """The campaign of an issue (a date or an issue file); ``CampaignError`` if none."""
    date = issue_date(ref, settings)
    engine = open_database(settings.database_url)
    try:
        store = CampaignStore(engine)
        campaign = store.get(date)
        if campaign is None:
            raise CampaignError(f"no campaign for {date}; start one with: newsletter send {ref}")
        return _summary(store, campaign.id, None, 0)
    finally:
        engine.dispose()


# -- test sends -------------------------------------------------------------------------


@dataclass(frozen=True)
class TestSend:
    address: str
    variant: str
    subject: str
    provider_id: str | None
    error: str | None = None


def send_test(
    settings: Settings,
    ref: str,
    to: list[str] | None = None,
    *,
    all_variants: bool = False,
    transport: Transport | None = None,
    warn: Callable[[str], None] | None = None,
) -> list[TestSend]:
    """Send the issue to editors with "[TEST]" in the subject; no campaign is touched.

    ``to`` defaults to ``NEWSLETTER_EDITORS``. With ``all_variants`` each editor gets one
    message per variant that active subscribers would receive ("[TEST zh:CV] ..."),
    otherwise the full bilingual issue. Tokens name ``TEST_SUBSCRIBER_ID``, never a real
    subscriber. Raises ``ConfigurationError`` when there is nobody to send to and
    ``PreflightError`` when the preflight checks find an error; their warnings go to ``warn``.
    """
    secret = settings.signing_key()
    addresses = list(to or settings.editors)
    if not addresses:
        raise ConfigurationError(
            "no addresses: pass --to EMAIL or set NEWSLETTER_EDITORS, e.g. '[\"me@example.org\"]'"
        )
    for warning in preflight(resolve_issue(ref, settings), settings):
        if warn is not None:
            warn(warning)
    issue = load_issue(resolve_issue(ref, settings))
    keys = [Variant().key]
    if all_variants:
        engine = open_database(settings.database_url)
        try:
            in_use = CampaignStore(engine).variant_counts(issue_categories(issue))
        finally:
            engine.dispose()
        keys = sorted(in_use) or keys
    rendered = render_variants(issue, keys, settings)
    transport = transport or make_transport(settings)
    sender, date = sender_from(settings), format_datetime(dt.datetime.now(dt.UTC))
    # Every test message names the same subscriber, so its tokens are made once.
    unsubscribe_token = make_token(secret, Purpose.UNSUBSCRIBE, TEST_SUBSCRIBER_ID)
    preferences_token = make_token(secret, Purpose.PREFERENCES, TEST_SUBSCRIBER_ID)
    results: list[TestSend] = []
    for key in keys:
        prefix = f"[TEST {key}] " if all_variants else "[TEST] "
        template = MessageTemplate(rendered[key], sender, f"test-{issue.date}", prefix)
        subject = prefix + rendered[key].subject
        for n, address in enumerate(addresses, 1):
            recipient = Recipient(
                address=address,
                delivery_id=f"test.{issue.date}.{key}.{n}",
                unsubscribe_token=unsubscribe_token,
                preferences_token=preferences_token,
            )
            try:
                provider_id = transport.send(template.build(recipient, date), address)
            except TransportError as err:
                results.append(TestSend(address, key, subject, None, str(err)))
            else:
                results.append(TestSend(address, key, subject, provider_id))
    return results


# -- workers ----------------------------------------------------------------------------


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
) -> list[SendSummary]:
    """Send every campaign in state ``sending`` (or only ``issue_ref``'s) until stopped.

    With ``once``, each open campaign is worked through once and the function returns.
    Other workers on other machines may work on the same campaigns at the same time.
    """
    settings.signing_key()
    stop = stop or threading.Event()
    date = None if issue_ref is None else issue_date(issue_ref, settings)
    engine = open_database(settings.database_url)
    transport = transport or make_transport(settings)
    summaries: list[SendSummary] = []
    try:
        store = CampaignStore(engine)
        while not stop.is_set():
            for campaign in store.sending():
                if stop.is_set():
                    break
                if date is not None and campaign.issue_date != date:
                    continue
                issue = load_issue(_campaign_issue_path(campaign, settings))
                try:
                    check_unchanged(campaign, issue)
                except CampaignError as error:
                    # Every worker would stumble on it: pause until an operator decides.
                    store.pause(campaign.id, str(error))
                    summary = _summary(store, campaign.id, None, 0)
                    summaries.append(summary)
                    if report is not None:
                        report(summary)
                    continue
                summary = process_campaign(
                    settings, engine, campaign.id, issue,
                    transport=transport, progress=progress, stop=stop,
                )
                summaries.append(summary)
                if report is not None and _eventful(summary):
                    report(summary)
            if once:
                break
            stop.wait(poll_seconds)
    finally:
        engine.dispose()
    return summaries


def _eventful(summary: SendSummary) -> bool:
    """Whether a worker's pass is worth reporting (a polling worker is otherwise silent)."""
    run = summary.run
    did = run is not None and (run.sent or run.failed or run.in_doubt or run.deferred)
    return bool(did or summary.recovered or summary.outcome in ("done", "paused", "error"))


def _campaign_issue_path(campaign: Campaign, settings: Settings) -> Path:
    # The path recorded by the machine that started the campaign; another machine may keep
    # its issues elsewhere, so fall back to this one's NEWSLETTER_ISSUES_DIR.
    recorded = Path(campaign.issue_path)
    if recorded.exists():
        return recorded
    return settings.issues_dir / f"{campaign.issue_date}.yaml"
