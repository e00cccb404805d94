"""What sending works with: campaigns, claimed deliveries and their results, as plain values.

The delivery engine and the campaign service see only these and small protocols; the
store (``newsletter.store.campaigns``) turns rows into them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

CampaignStatus = Literal["sending", "paused", "done"]
DeliveryStatus = Literal["queued", "sending", "sent", "failed", "in_doubt", "skipped"]


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


@dataclass(frozen=True)
class DeliveryCounts:
    queued: int = 0
    sending: int = 0
    sent: int = 0
    failed: int = 0
    in_doubt: int = 0
    deferred: int = 0  # queued, but not to be claimed before a later time
    skipped: int = 0  # the reader opted out, bounced or complained after the snapshot

    @property
    def total(self) -> int:
        return (
            self.queued + self.sending + self.sent + self.failed + self.in_doubt + self.skipped
        )

    @property
    def open(self) -> int:
        """Deliveries not finished yet (queued or in flight)."""
        return self.queued + self.sending
