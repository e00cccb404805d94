"""What SES told us about a message, as our own value, and the names our sends carry.

``newsletter.feedback.ses_events`` turns SES's JSON into :class:`SesEvent`; the store, the
engine and the feedback pipeline share the value and the tag names from here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

EventKind = Literal[
    "send", "delivery", "bounce", "complaint", "reject", "delivery_delay",
    "rendering_failure", "open", "click", "subscription", "other",
]
# The SES tags our sends carry, and the header that says the same inside the message.
DELIVERY_TAG = "nl_delivery"
CAMPAIGN_TAG = "nl_campaign"
DELIVERY_HEADER = "x-newsletter-delivery"


@dataclass(frozen=True)
class SesEvent:
    """What SES told us about one message, in our own terms."""

    kind: EventKind
    key: str  # sha256 of the canonical JSON: the same event twice has the same key
    ses_message_id: str | None
    delivery_id: int | None  # ours, from the tag or the header; None if neither is there
    campaign: str | None  # the nl_campaign tag (the issue date), if present
    recipients: tuple[str, ...]
    bounce_type: str  # Permanent, Transient, Undetermined; "" unless a bounce
    detail: str
    occurred_at: dt.datetime | None
    machine: bool = False  # an open SES marks as made by a machine, not a reader
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @property
    def permanent(self) -> bool:
        """Whether the address must never be mailed again: a hard bounce or a complaint."""
        return self.kind == "complaint" or (
            self.kind == "bounce" and self.bounce_type == "Permanent"
        )


def suppressions_for(event: SesEvent) -> list[tuple[str, str, str]]:
    """``(address, reason, detail)`` for every address this event says never to mail again.

    Permanent bounces suppress as ``bounced``, complaints as ``complained``; transient
    bounces suppress only once they repeat (the store counts them), other events never.
    """
    if event.kind == "bounce" and event.permanent:
        return [(address, "bounced", event.detail) for address in event.recipients]
    if event.kind == "complaint":
        return [(address, "complained", event.detail) for address in event.recipients]
    return []
