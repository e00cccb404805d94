"""Every record of a ``db import`` checked as the rest of the system checks it.

A dump is a text file that anyone could have edited, so nothing in it is trusted: each
value must have its column's type and width (no NUL, which PostgreSQL cannot store),
addresses must be in the normalised form every other way in stores them (so two
spellings of one reader cannot both arrive), statuses, categories and languages must be
known ones, and no subscriber may have the id reserved for test messages, which no
link could ever unsubscribe. Unique values (ids, addresses, hashes) are tracked across
the file, so a repeat names both lines. Each problem is a :class:`ValueError` with a
short message; ``dump.py`` puts the line number in front.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from typing import Any, get_args

from sqlalchemy import Column, Integer, String, Table, Text

from newsletter.errors import InvalidAddressError, InvalidPreferencesError
from newsletter.model.addresses import email_hash, normalize_email
from newsletter.model.campaigns import CampaignStatus
from newsletter.model.events import EventKind
from newsletter.model.subscribers import SOURCES, check_preferences, check_status
from newsletter.store.tables import UTCDateTime
from newsletter.tokens import NO_SUBSCRIBER_ID
from newsletter.vocabulary import LANGUAGES

MAX_TEXT = 1_000_000  # an SES event's payload is at most 256 KB (the SNS limit)
MAX_ID = 2**63 - 1  # PostgreSQL's BIGINT
_HEX64 = re.compile(r"[0-9a-f]{64}")
_DELIVERY_STATUSES = ("queued", "sending", "sent", "failed", "in_doubt", "skipped")
_ISSUE_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _address(value: str) -> None:
    try:
        normal = normalize_email(value)
    except InvalidAddressError:
        raise ValueError(f"{_short(value)} is not a valid email address") from None
    if normal != value:
        raise ValueError(f"{_short(value)} is not in normalised form ({normal!r})")


def _one_of(choices: tuple[str, ...]) -> Callable[[str], None]:
    def check(value: str) -> None:
        if value not in choices:
            raise ValueError(f"{_short(value)} is not one of {', '.join(choices)}")
    return check


def _subscriber_id(value: int) -> None:
    if not 1 <= value < NO_SUBSCRIBER_ID:
        raise ValueError(f"{value} is not a subscriber id (1 to {NO_SUBSCRIBER_ID - 1:,}; "
                         f"{NO_SUBSCRIBER_ID:,} is reserved for test messages)")


def _hex64(value: str) -> None:
    if not _HEX64.fullmatch(value):
        raise ValueError(f"{_short(value)} is not a SHA-256 hex digest")


def _digest_or_empty(value: str) -> None:
    if value:  # "" for campaigns from before content hashes
        _hex64(value)


def _issue_date(value: str) -> None:
    try:
        if not _ISSUE_DATE.fullmatch(value):
            raise ValueError
        dt.date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{_short(value)} is not a date (YYYY-MM-DD)") from None


def _status(value: str) -> None:
    try:
        check_status(value)
    except InvalidPreferencesError as err:
        raise ValueError(str(err)) from None


def _codes(value: str) -> None:
    try:
        check_preferences([c for c in value.split(",") if c], "both")
    except InvalidPreferencesError as err:
        raise ValueError(str(err)) from None


# Checks beyond type and width, by table and column, run on values that are not None.
_VALUE_CHECKS: dict[str, dict[str, Callable[[Any], None]]] = {
    "subscribers": {
        "id": _subscriber_id, "email": _address, "status": _status, "categories": _codes,
        "pending_categories": _codes, "language": _one_of(LANGUAGES),
        "pending_language": _one_of(LANGUAGES), "source": _one_of(SOURCES),
    },
    "subscriber_events": {"subscriber_id": _subscriber_id},
    "suppressions": {"email_hash": _hex64, "email": _address},
    "campaigns": {"issue_date": _issue_date, "status": _one_of(get_args(CampaignStatus)),
                  "content_sha256": _digest_or_empty},
    "deliveries": {"subscriber_id": _subscriber_id, "status": _one_of(_DELIVERY_STATUSES)},
    "api_tokens": {"token_hash": _hex64},
    "ses_events": {"event_key": _hex64, "kind": _one_of(get_args(EventKind))},
}


def _typed(column: Column[Any], value: Any) -> Any:
    """``value`` as the column stores it; ValueError when it has the wrong type or width."""
    kind = column.type
    if isinstance(kind, UTCDateTime):
        if not isinstance(value, str):
            raise ValueError(f"{_short(value)} is not an ISO 8601 date and time")
        try:
            parsed = dt.datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{_short(value)} is not an ISO 8601 date and time") from None
        if parsed.tzinfo is None:
            raise ValueError(f"{_short(value)} has no time zone (the export writes +00:00)")
        return parsed
    if isinstance(kind, Integer):  # BigInteger too
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_ID:
            raise ValueError(f"{_short(value)} is not a whole number from 0 to {MAX_ID}")
        return value
    if isinstance(kind, (String, Text)):
        if not isinstance(value, str):
            raise ValueError(f"{_short(value)} is not text")
        width = getattr(kind, "length", None) or MAX_TEXT
        if len(value) > width:
            raise ValueError(f"is {len(value):,} characters long; at most {width:,} fit")
        if "\x00" in value:
            raise ValueError("contains a NUL character, which the database cannot store")
        return value
    return value


def _required(column: Column[Any]) -> bool:
    return not (column.nullable or column.primary_key or column.default is not None
                or column.server_default is not None)


class RowChecker:
    """Checks the rows of one dump in order; remembers unique values to name repeats."""

    def __init__(self) -> None:
        self._seen: dict[tuple[str, str], dict[Any, int]] = {}

    def check(self, number: int, table: Table, raw: Mapping[str, Any]) -> dict[str, Any]:
        """The row ready to insert; ValueError naming the first column that is wrong."""
        row: dict[str, Any] = {}
        checks = _VALUE_CHECKS.get(table.name, {})
        for column in table.c:
            name = column.name
            if name not in raw:
                if _required(column):
                    raise ValueError(f"{name}: is missing")
                continue
            value = raw[name]
            if value is None:
                if not column.nullable or column.primary_key:
                    raise ValueError(f"{name}: must not be null")
                row[name] = None
                continue
            try:
                row[name] = _typed(column, value)
                if name in checks:
                    checks[name](row[name])
            except ValueError as err:
                raise ValueError(f"{name}: {err}") from None
        self._unique(number, table, row)
        if table.name == "suppressions" and row.get("email") is not None and (
            email_hash(row["email"]) != row["email_hash"]
        ):
            raise ValueError("email_hash: is not the SHA-256 of email")
        return row

    def _unique(self, number: int, table: Table, row: Mapping[str, Any]) -> None:
        # A primary key of several columns is unique as a whole (campaign and variant, say).
        key = [c.name for c in table.primary_key.columns]
        keys = [tuple(key)] if len(key) > 1 else []
        keys += [(c.name,) for c in table.c if (c.primary_key and len(key) == 1) or c.unique]
        for names in keys:
            if any(row.get(name) is None for name in names):
                continue
            seen = self._seen.setdefault((table.name, ", ".join(names)), {})
            value = row[names[0]] if len(names) == 1 else tuple(row[n] for n in names)
            if value in seen:
                raise ValueError(f"{', '.join(names)}: {_short(value)} is already on line "
                                 f"{seen[value]}; keep one of them")
            seen[value] = number


def check_next_ids(value: Any, tables: Mapping[str, Table]) -> dict[str, int]:
    """The header's ``next_ids``; ValueError unless it maps known tables to usable ids."""
    if not isinstance(value, dict):
        raise ValueError(f"next_ids: {_short(value)} is not an object of table: next id")
    checked: dict[str, int] = {}
    for name, next_id in value.items():
        if name not in tables:
            raise ValueError(f"next_ids: {_short(name)} is not a table of the dump")
        highest = NO_SUBSCRIBER_ID if name == "subscribers" else MAX_ID
        if not isinstance(next_id, int) or isinstance(next_id, bool) or not (
            1 <= next_id <= highest
        ):
            raise ValueError(f"next_ids: {name}: {_short(next_id)} is not a whole number "
                             f"from 1 to {highest:,}")
        checked[name] = next_id
    return checked
