"""What a run of a campaign did and where the campaign stands: the lines ``send`` prints."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from newsletter.model.campaigns import Campaign, CampaignHealth, DeliveryCounts
from newsletter.sending.plan import RunResult
from newsletter.store.campaigns import CampaignStore
from newsletter.store.events import EventStore
from newsletter.store.reconcile import Reconciled

CampaignOutcome = Literal["done", "paused", "incomplete", "interrupted", "enqueued", "error"]
EXIT_CODES: dict[CampaignOutcome, int] = {
    "done": 0, "enqueued": 0, "error": 1, "paused": 3, "incomplete": 3, "interrupted": 3,
}


@dataclass
class SendSummary:
    """The state of a campaign after a run, and what the run did."""

    campaign: Campaign
    counts: DeliveryCounts
    outcome: CampaignOutcome
    run: RunResult | None = None
    recovered: int = 0
    in_doubt: list[tuple[int, str, str]] = field(default_factory=list)
    rate: float | None = None
    concurrency: int | None = None
    left_out: int = 0  # counted when this run took the snapshot, else 0 (not known)
    reconciled: Reconciled = field(default_factory=Reconciled)
    health: CampaignHealth = field(default_factory=CampaignHealth)
    requeued_failed: int = 0
    # Issue 21: who gets how many papers, who waits for a weekly edition or a pause.
    audience: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.outcome]

    def as_json(self) -> dict[str, Any]:
        """The summary as a JSON object (`status --json`): for scripts and monitoring."""
        c, campaign = self.counts, self.campaign
        return {
            "issue_date": campaign.issue_date,
            "outcome": self.outcome,
            "status": campaign.status,
            "paused_reason": campaign.paused_reason or None,
            "created_at": campaign.created_at.isoformat(),
            "finished_at": campaign.finished_at.isoformat() if campaign.finished_at else None,
            "counts": {**asdict(c), "total": c.total},
            "in_doubt": [{"delivery": i, "email": email, "reason": reason}
                         for i, email, reason in self.in_doubt],
            "in_doubt_listed": len(self.in_doubt),
            "reconciled": asdict(self.reconciled),
            "ses_events": asdict(self.health),
            "audience": self.audience,
            "exit_code": self.exit_code,
        }

    def lines(self) -> list[str]:
        c, date = self.counts, self.campaign.issue_date
        out = [
            f"campaign {date}: {self.outcome}; {c.total:,} deliveries: {c.sent:,} sent, "
            f"{c.failed:,} failed, {c.in_doubt:,} in doubt, {c.queued:,} queued"
            f"{f' ({c.deferred:,} deferred)' if c.deferred else ''}, {c.sending:,} sending"
            + (f", {c.skipped:,} skipped (opted out after the snapshot)" if c.skipped else "")
        ]
        if c.maybe_twice:
            out.append(f"{c.maybe_twice:,} readers may have had two copies: each was sent again "
                       "after an attempt that may have reached SES (NEWSLETTER_IN_DOUBT_POLICY"
                       "=resend)")
        if self.requeued_failed:
            out.append(f"{self.requeued_failed:,} failed deliveries queued again (--retry-failed)")
        r_ = self.reconciled
        if r_.confirmed or r_.requeued:
            out.append(f"reconciled from SES events: {r_.confirmed:,} in-doubt found sent, "
                       f"{r_.requeued:,} never accepted and queued again")
        if r_.waiting:
            out.append(f"{r_.waiting:,} in-doubt deliveries are not resent yet: {r_.why}")
        out += health_lines(self.health)
        if self.run is not None:
            r = self.run
            speed = f", {r.sent / r.elapsed:.1f}/s" if r.elapsed > 0 and r.sent else ""
            out.append(
                f"this run: {r.sent:,} sent, {r.failed:,} failed, {r.in_doubt:,} in doubt, "
                f"{r.deferred:,} deferred, {r.throttled:,} throttled in {r.elapsed:.1f} s{speed}"
                + (f" (rate {self.rate:.1f}/s, {self.concurrency} threads)" if self.rate else "")
            )
            if r.late_calls:
                # Each is a slot of the schedule unused: rate lost (CPU or database too slow
                # for the account's rate, or a worker paused), not a reader's message.
                out.append(f"{r.late_calls:,} bulk calls were ready after their slot of the "
                           "send rate and took a later one: rate lost (this process fell "
                           "behind: CPU, database or a pause)")
        if self.left_out:
            out.append(left_out_line(self.left_out))
        out += self.audience
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
                f"in doubt ({c.in_doubt:,}; may or may not have been delivered; not resent "
                "under NEWSLETTER_IN_DOUBT_POLICY=skip, decided by SES events under reconcile):"
            )
            out += [f"  delivery {i}: {email}" for i, email, _ in self.in_doubt]
            if c.in_doubt > len(self.in_doubt):
                out.append(f"  ... and {c.in_doubt - len(self.in_doubt):,} more")
        return out


def left_out_line(count: int) -> str:
    """Why ``count`` active subscribers are not among an issue's recipients."""
    who = "subscriber chose" if count == 1 else "subscribers chose"
    return (
        f"{count:,} active {who} only categories with no paper in this issue, "
        "so they get nothing today"
    )


def health_lines(h: CampaignHealth) -> list[str]:
    """The campaign's feedback from SES, when there is any: counts and rates per kind."""
    if not h.reported:
        return []

    def part(label: str, n: int) -> str:
        return f"{n:,} {label} ({h.rate(n):.2%})"

    lines = [
        "SES events: " + ", ".join([
            part("delivered", h.delivered),
            part("bounced", h.hard_bounced + h.soft_bounced)
            + f" [hard {h.hard_bounced:,}, soft {h.soft_bounced:,}]",
            part("complained", h.complained), part("rejected", h.rejected),
            part("delayed", h.delayed),
        ])
    ]
    if h.opened or h.clicked:
        machine = f" ({h.machine_opened:,} by machines)" if h.machine_opened else ""
        lines.append(f"engagement: {part('opened', h.opened)}{machine}, "
                     f"{part('clicked', h.clicked)} (unique readers)")
    return lines


# In-doubt deliveries a summary names one by one (`status --all` names every one).
IN_DOUBT_SHOWN = 20


def summarize(
    store: CampaignStore,
    events: EventStore,
    campaign_id: int,
    run: RunResult | None,
    recovered: int,
    reconciled: Reconciled | None = None,
    in_doubt_limit: int | None = IN_DOUBT_SHOWN,
) -> SendSummary:
    campaign = store.by_id(campaign_id)
    assert campaign is not None
    counts = store.counts(campaign_id)
    outcome: CampaignOutcome
    if run is not None and run.error:
        outcome = "error"
    elif campaign.status == "paused":
        outcome = "paused"
    elif campaign.status == "done":
        outcome = "done"
    else:
        outcome = "incomplete"
    return SendSummary(
        campaign, counts, outcome, run, recovered, store.in_doubt(campaign_id, in_doubt_limit),
        reconciled=reconciled or Reconciled(),
        health=events.health(campaign_id),
    )


def eventful(summary: SendSummary) -> bool:
    """Whether a worker's pass is worth reporting (a polling worker is otherwise silent)."""
    run = summary.run
    did = run is not None and (run.sent or run.failed or run.in_doubt or run.deferred)
    return bool(did or summary.recovered or summary.outcome in ("done", "paused", "error"))


