"""The API's JSON values: readers and campaigns as objects, opaque cursors, and reading
the fields of a request body with one clear error each."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from collections.abc import Mapping
from typing import Any

from newsletter.errors import ApiError
from newsletter.model.campaigns import Campaign, DeliveryCounts
from newsletter.model.subscribers import Subscriber

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


def when(value: dt.datetime | None) -> str | None:
    return None if value is None else value.astimezone(dt.UTC).isoformat().replace(
        "+00:00", "Z")


def reader_json(reader: Subscriber) -> dict[str, Any]:
    return {
        "id": reader.id, "email": reader.email, "status": reader.status,
        "language": reader.language, "categories": sorted(reader.categories),
        "source": reader.source, "created_at": when(reader.created_at),
        "updated_at": when(reader.updated_at), "confirmed_at": when(reader.confirmed_at),
    }


def campaign_json(campaign: Campaign, counts: DeliveryCounts | None = None) -> dict[str, Any]:
    found: dict[str, Any] = {
        "id": campaign.id, "issue_date": campaign.issue_date, "status": campaign.status,
        "paused_reason": campaign.paused_reason, "total": campaign.total,
        "created_at": when(campaign.created_at), "finished_at": when(campaign.finished_at),
    }
    if counts is not None:
        found["counts"] = {
            "queued": counts.queued, "sending": counts.sending, "sent": counts.sent,
            "failed": counts.failed, "in_doubt": counts.in_doubt, "skipped": counts.skipped,
        }
    return found


def cursor(key: str | None) -> str | None:
    """An opaque cursor for the key a page ended at (None: no further page)."""
    if key is None:
        return None
    return base64.urlsafe_b64encode(key.encode("utf-8")).decode("ascii").rstrip("=")


def read_cursor(value: str | None) -> str | None:
    """The key inside a cursor from an earlier page; ``ApiError`` (400) for anything else."""
    if not value:
        return None
    try:
        padded = value + "=" * (-len(value) % 4)
        return base64.b64decode(padded, altchars=b"-_", validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise ApiError(400, "invalid_cursor", "cursor is not one this API gave; start "
                       "again without it") from None


def read_limit(value: str | None) -> int:
    if value is None or value == "":
        return DEFAULT_LIMIT
    if not value.isdigit() or not 1 <= int(value) <= MAX_LIMIT:
        raise ApiError(400, "invalid", f"limit must be a whole number from 1 to {MAX_LIMIT}")
    return int(value)


def text_field(body: Mapping[str, Any], name: str, *, default: str | None = None,
               limit: int = 320) -> str:
    value = body.get(name, default)
    if value is None:
        raise ApiError(422, "invalid", f"{name} is required")
    if not isinstance(value, str) or len(value) > limit:
        raise ApiError(422, "invalid", f"{name} must be a string of at most {limit} characters")
    return value


def categories_field(body: Mapping[str, Any], default: frozenset[str]) -> frozenset[str]:
    value = body.get("categories")
    if value is None:
        return default
    if not isinstance(value, list) or not all(isinstance(c, str) for c in value):
        raise ApiError(422, "invalid", "categories must be a list of category codes "
                       "([] is every category)")
    return frozenset(value)


def numeric_id(value: str) -> int:
    if not value.isdigit() or len(value) > 18:
        raise ApiError(404, "not_found", "no such subscriber")
    return int(value)
