"""What sending works with: campaigns, claimed deliveries and their results, as plain values.

The delivery engine and the campaign service see only these and small protocols; the
store (``newsletter.store.campaigns``) turns rows into them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

CampaignStatus = Literal["sending", "paused", "done"]


@dataclass(frozen=True)
class Campaign:
    id: int
    issue_date: str
    issue_path: str
    status: CampaignStatus
    paused_reason: str
    total: int
    created_at: dt.datetime
    finished_at: dt.datetime | None
    content_sha256: str = ""


@dataclass(frozen=True)
class Claim:
    """One delivery a worker now holds in ``sending``."""

    id: int
    subscriber_id: int
    email: str
    variant: str


@dataclass(frozen=True)
class DeliveryResult:
    """What became of one claimed delivery; ``status`` "queued" hands it back unsent."""

    delivery_id: int
    status: Literal["sent", "failed", "in_doubt", "queued"]
    provider_id: str | None = None
    error: str | None = None
    not_before: dt.datetime | None = None
    # Sent by a try after one whose answer was lost ("resend" policy): maybe two copies.
    resent: bool = False


@dataclass(frozen=True)
class DeliveryCounts:
    queued: int = 0
    sending: int = 0
    sent: int = 0
    failed: int = 0
    in_doubt: int = 0
    deferred: int = 0  # queued, but not to be claimed before a later time
    skipped: int = 0  # the reader opted out, bounced or complained after the snapshot
    # Sent after an earlier attempt that may have reached SES (the "resend" policy): these
    # readers may have two copies. Not a state: counted among ``sent``.
    maybe_twice: int = 0

    @property
    def total(self) -> int:
        return (
            self.queued + self.sending + self.sent + self.failed + self.in_doubt + self.skipped
        )

    @property
    def open(self) -> int:
        """Deliveries not finished yet (queued or in flight)."""
        return self.queued + self.sending


# A campaign pauses itself on its readers' feedback only after this many sends.
HEALTH_MIN_SENDS = 500


@dataclass(frozen=True)
class CampaignHealth:
    """What SES reported about a campaign's messages (distinct deliveries per kind)."""

    sent: int = 0
    delivered: int = 0
    hard_bounced: int = 0
    soft_bounced: int = 0
    complained: int = 0
    rejected: int = 0
    delayed: int = 0
    opened: int = 0
    machine_opened: int = 0
    clicked: int = 0

    def rate(self, count: int) -> float:
        return count / self.sent if self.sent else 0.0

    @property
    def bounce_rate(self) -> float:
        """Hard bounces per message sent (what SES's reviews count)."""
        return self.rate(self.hard_bounced)

    @property
    def complaint_rate(self) -> float:
        return self.rate(self.complained)

    @property
    def reported(self) -> bool:
        return any((self.delivered, self.hard_bounced, self.soft_bounced, self.complained,
                    self.rejected, self.delayed, self.opened, self.clicked))

    def problem(self, max_bounce_rate: float, max_complaint_rate: float,
                min_sends: int = HEALTH_MIN_SENDS) -> str | None:
        """Why the campaign should pause (its bounce or complaint rate is too high), or None."""
        if self.sent < min_sends:
            return None
        if self.bounce_rate > max_bounce_rate:
            return (
                f"bounce rate {self.bounce_rate:.2%} ({self.hard_bounced:,} of {self.sent:,}) "
                f"is above the campaign's limit {max_bounce_rate:.2%} (NEWSLETTER_MAX_BOUNCE_RATE"
                " when it started); clean the list before sending on (SES reviews accounts at "
                "5%), or continue with a higher limit: send ISSUE --resume --max-bounce-rate R"
            )
        if self.complaint_rate > max_complaint_rate:
            return (
                f"complaint rate {self.complaint_rate:.3%} ({self.complained:,} of "
                f"{self.sent:,}) is above the campaign's limit {max_complaint_rate:.3%} "
                "(NEWSLETTER_MAX_COMPLAINT_RATE when it started; SES reviews accounts at 0.1%); "
                "to continue: send ISSUE --resume --max-complaint-rate R"
            )
        return None
