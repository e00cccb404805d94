"""Outgoing webhooks as the rest of the package sees them (issue 22): the events we send,
endpoints and the messages waiting for them."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

EVENT_TYPES: tuple[str, ...] = (
    "subscriber.created", "subscriber.confirmed", "subscriber.unsubscribed",
    "subscriber.bounced", "subscriber.complained", "campaign.started", "campaign.finished",
)


@dataclass(frozen=True)
class Endpoint:
    id: int
    url: str
    events: frozenset[str]
    secret: str  # whsec_...: signs every message (Standard Webhooks)
    created_at: dt.datetime
    disabled_at: dt.datetime | None
    disabled_reason: str
    pending: int = 0  # messages waiting
    failed: int = 0  # messages given up on


@dataclass(frozen=True)
class Message:
    """One message for one endpoint, claimed for an attempt."""

    row_id: int
    endpoint_id: int
    url: str
    secret: str
    message_id: str  # msg_...: the same on every attempt, so receivers can drop repeats
    event_type: str
    payload: str  # the JSON body, exactly as signed and sent
    attempts: int  # attempts before this one
    created_at: dt.datetime
