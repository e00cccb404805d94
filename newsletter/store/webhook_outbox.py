"""Writing webhook messages into the outbox, inside the transaction of the change they tell
of (issue 22): a committed change always has its messages, a rolled-back one never does.

:func:`emit` writes one row per endpoint that asked for the event type (a disabled one's
wait for it to be enabled), all with one ``msg_`` id; :func:`subscriber_event` maps a line
of a subscriber's history to an event, :func:`subscribers_created` an import batch.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, insert, select

from newsletter.store.tables import campaigns, subscribers
from newsletter.store.tables_api import webhook_endpoints, webhook_messages

# A subscriber's new status -> the event that tells of it (see subscriber_event).
_STATUS_EVENTS = {
    "active": "subscriber.confirmed",
    "unsubscribed": "subscriber.unsubscribed",
    "bounced": "subscriber.bounced",
    "complained": "subscriber.complained",
}


def _stamp(now: dt.datetime) -> str:
    return now.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _wanted(conn: Connection, event_type: str) -> list[int]:
    """The endpoints that asked for ``event_type``. Disabled ones too: their messages wait
    until an operator enables them again (or removes them)."""
    return [
        row.id for row in conn.execute(
            select(webhook_endpoints.c.id, webhook_endpoints.c.events))
        if event_type in row.events.split(",")
    ]


def _rows(endpoints: list[int], event_type: str, data: dict[str, Any],
          now: dt.datetime) -> list[dict[str, Any]]:
    message_id = f"msg_{uuid.uuid4().hex}"
    payload = json.dumps({"type": event_type, "timestamp": _stamp(now), "data": data},
                         ensure_ascii=False, separators=(",", ":"))
    return [{"endpoint_id": endpoint, "message_id": message_id, "event_type": event_type,
             "payload": payload, "status": "pending", "attempts": 0, "created_at": now,
             "next_attempt_at": now, "last_error": ""} for endpoint in endpoints]


def emit(conn: Connection, event_type: str, data: dict[str, Any], now: dt.datetime) -> int:
    """Queue ``event_type`` for every endpoint that asked for it; how many messages."""
    wanted = _wanted(conn, event_type)
    if wanted:
        conn.execute(insert(webhook_messages), _rows(wanted, event_type, data, now))
    return len(wanted)


def subscribers_created(conn: Connection, created: Iterable[tuple[int, str, str]],
                        reason: str, now: dt.datetime) -> None:
    """``subscriber.created`` for each (id, address, status) of a batch (an import)."""
    wanted = _wanted(conn, "subscriber.created")
    if not wanted:
        return
    rows = [row for subscriber_id, email, status in created
            for row in _rows(wanted, "subscriber.created",
                             {"id": subscriber_id, "email": email, "status": status,
                              "previous_status": None, "reason": reason}, now)]
    if rows:
        conn.execute(insert(webhook_messages), rows)


def subscriber_event(conn: Connection, subscriber_id: int, kind: str, old: str | None,
                     new: str | None, reason: str, now: dt.datetime) -> None:
    """The webhook event of one line of a subscriber's history, if it has one."""
    if kind == "created":
        event_type = "subscriber.created"
    elif kind == "status" and new in _STATUS_EVENTS and old != new:
        event_type = _STATUS_EVENTS[new]
    else:
        return
    email = conn.execute(
        select(subscribers.c.email).where(subscribers.c.id == subscriber_id)
    ).scalar()
    emit(conn, event_type, {"id": subscriber_id, "email": email, "status": new,
                            "previous_status": old, "reason": reason}, now)


def campaign_event(conn: Connection, event_type: str, campaign_id: int,
                   now: dt.datetime) -> None:
    """``campaign.started`` or ``campaign.finished`` for one campaign."""
    row = conn.execute(select(campaigns).where(campaigns.c.id == campaign_id)).first()
    if row is None:
        return
    emit(conn, event_type, {"id": campaign_id, "issue_date": row.issue_date,
                            "status": row.status, "total": row.total,
                            "finished_at": _stamp(row.finished_at) if row.finished_at else None},
         now)
