"""What readers did with an issue, and how the list changes, as plain values.

The store (``store/reports.py``, ``store/trends.py``) fills them from the rolled-up
counters; ``newsletter report`` and the desk show them. :class:`PaperRow` is one paper's
line: a frozen dataclass whose fields are its JSON keys and CSV columns, so a figure added
to it appears in every output.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field
from typing import Any

# What SES and Gmail hold senders to (bounce and complaint rates of the mail sent).
SES_BOUNCE_WARNING = 0.05
SES_BOUNCE_REVIEW = 0.10
SES_COMPLAINT_WARNING = 0.001
SES_COMPLAINT_REVIEW = 0.005
GMAIL_COMPLAINT_LIMIT = 0.003


@dataclass(frozen=True)
class Counts:
    """An issue's figures (or one variant's). Each counts deliveries (readers), except
    ``clicks_total``; ``opened_machine`` counts deliveries only machines opened."""

    recipients: int = 0
    sent: int = 0
    delivered: int = 0
    bounced: int = 0
    complained: int = 0
    opened_unique: int = 0
    opened_machine: int = 0
    clicked_unique: int = 0
    clicks_total: int = 0
    unsubscribed: int = 0  # readers who unsubscribed through this issue's links
    preferences_changed: int = 0

    def plus(self, other: Counts) -> Counts:
        return Counts(*(a + b for a, b in zip(dataclasses.astuple(self),
                                               dataclasses.astuple(other), strict=True)))

    def as_json(self) -> dict[str, int]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class PaperRow:
    """One paper of the issue: clicks on its links, how many readers clicked them, and how
    many pressed "More like this" and "Not for me" under it (issue 21's feedback)."""

    arxiv_id: str
    title: str
    clicks: int = 0
    readers: int = 0
    more_like_this: int = 0
    not_for_me: int = 0

    def as_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class LinkRow:
    """Clicks on one link that is not a paper: the archive, a reader's page, another URL."""

    kind: str
    key: str
    clicks: int
    readers: int


@dataclass(frozen=True)
class CampaignReport:
    issue: str
    status: str
    started_at: dt.datetime
    finished_at: dt.datetime | None
    totals: Counts
    by_variant: dict[str, Counts]
    papers: list[PaperRow]
    links: list[LinkRow] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        """The object ``report --json`` prints."""
        return {
            "issue": self.issue,
            **self.totals.as_json(),
            "by_variant": {key: c.as_json() for key, c in sorted(self.by_variant.items())},
            "papers": [p.as_json() for p in self.papers],
        }


def rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


@dataclass(frozen=True)
class Day:
    """One day of the list's history (UTC)."""

    day: dt.date
    signups: int = 0
    confirmations: int = 0
    added: int = 0  # made active without a sign-up (import, CLI)
    left_reader: int = 0
    left_bounce: int = 0
    left_complaint: int = 0
    left_inactive: int = 0

    @property
    def left(self) -> int:
        return self.left_reader + self.left_bounce + self.left_complaint + self.left_inactive

    @property
    def net(self) -> int:
        return self.confirmations + self.added - self.left

    @property
    def confirmation_rate(self) -> float | None:
        return rate(self.confirmations, self.signups)


@dataclass(frozen=True)
class CampaignLine:
    """One campaign in the trends: its rates and how long it took to send."""

    issue: str
    started_at: dt.datetime
    finished_at: dt.datetime | None
    delivered: int
    bounced: int
    complained: int

    @property
    def outcomes(self) -> int:
        return self.delivered + self.bounced  # messages SES accepted and settled

    @property
    def bounce_rate(self) -> float | None:
        return rate(self.bounced, self.outcomes)

    @property
    def complaint_rate(self) -> float | None:
        return rate(self.complained, self.outcomes)

    @property
    def send_seconds(self) -> float | None:
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()

    def warnings(self) -> list[str]:
        found = []
        if (b := self.bounce_rate) is not None and b >= SES_BOUNCE_WARNING:
            level = "review" if b >= SES_BOUNCE_REVIEW else "warning"
            found.append(f"bounce rate {b:.2%} at SES's {level} level")
        if (c := self.complaint_rate) is not None:
            if c >= GMAIL_COMPLAINT_LIMIT:
                found.append(f"complaint rate {c:.3%} over Gmail's 0.3% limit")
            elif c >= SES_COMPLAINT_WARNING:
                found.append(f"complaint rate {c:.3%} at SES's warning level")
        return found


@dataclass(frozen=True)
class Trends:
    since: dt.date
    until: dt.date
    days: list[Day]
    campaigns: list[CampaignLine]
