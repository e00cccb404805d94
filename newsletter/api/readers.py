"""Readers through the API: search with a cursor, get, create (pending with a confirmation
email, or confirmed with a consent record), change preferences, unsubscribe, erase.

Every change is written to the desk's audit log with the token's name as the actor.
Errors are ``ApiError``s with the status the route answers.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from newsletter.api.access import Caller
from newsletter.api.values import (
    categories_field,
    cursor,
    numeric_id,
    read_cursor,
    read_limit,
    reader_json,
    text_field,
)
from newsletter.errors import (
    ApiError,
    InvalidAddressError,
    InvalidPreferencesError,
    SubscriberExistsError,
    SuppressedAddressError,
    UnknownCategoryError,
    UnknownSubscriberError,
)
from newsletter.issues.categories import available_categories, check_categories
from newsletter.model.addresses import normalize_email
from newsletter.model.subscribers import Subscriber, check_preferences
from newsletter.store.readers import ReaderFilter, ReaderQueries
from newsletter.store.subscribers import SubscriberStore
from newsletter.subscribers.choices import Choices
from newsletter.subscribers.workflow import Subscriptions
from newsletter.vocabulary import SUBSCRIBER_STATUSES


class Audit(Protocol):
    def audit(self, actor: str, action: str, target: str = "", detail: str = "") -> None: ...


@contextmanager
def answered() -> Iterator[None]:
    """Our errors about readers as the API's answers."""
    try:
        yield
    except UnknownSubscriberError:
        raise ApiError(404, "not_found", "no such subscriber") from None
    except (InvalidAddressError, InvalidPreferencesError, UnknownCategoryError) as error:
        raise ApiError(422, "invalid", str(error)) from None
    except SubscriberExistsError as error:
        raise ApiError(409, "exists", str(error)) from None
    except SuppressedAddressError as error:
        raise ApiError(409, "suppressed", str(error)) from None


def _consent(body: Mapping[str, Any]) -> dict[str, str]:
    """The consent record a confirmed reader must come with: what they agreed to, when,
    and how (e.g. a paper form); ``ApiError`` (422) when it is missing or incomplete."""
    record = body.get("consent")
    if not isinstance(record, dict):
        raise ApiError(422, "consent_required", "adding a reader as confirmed needs a consent "
                       "record: {\"text\": what they agreed to, \"obtained_at\": ISO 8601 "
                       "time, \"method\": how}; or leave status out to send a confirmation")
    found = {name: text_field(record, name, limit=2000)
             for name in ("text", "obtained_at", "method")}
    try:
        obtained = dt.datetime.fromisoformat(found["obtained_at"].replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(422, "invalid", "consent.obtained_at must be an ISO 8601 time") from None
    if obtained.tzinfo is None:
        raise ApiError(422, "invalid", "consent.obtained_at needs a time zone (Z or +08:00)")
    if not found["text"].strip() or not found["method"].strip():
        raise ApiError(422, "invalid", "consent.text and consent.method must not be empty")
    return found


class ReadersApi:
    def __init__(
        self, store: SubscriberStore, queries: ReaderQueries,
        subscriptions: Callable[[], Subscriptions], issues_dir: Path, audit: Audit,
    ) -> None:
        self.store = store
        self.queries = queries
        self.subscriptions = subscriptions
        self.issues_dir = issues_dir
        self.log = audit

    def search(self, caller: Caller, params: Mapping[str, str]) -> dict[str, Any]:
        """A page of readers (newest first; in address order when ``q`` is given)."""
        status = params.get("status") or None
        if status is not None and status not in SUBSCRIBER_STATUSES:
            raise ApiError(400, "invalid",
                           f"status must be one of {', '.join(SUBSCRIBER_STATUSES)}")
        query = ReaderFilter(
            text=params.get("q", "")[:320], contains=params.get("match") == "contains",
            status=status, category=params.get("category") or None,
            language=params.get("language") or None,
        )
        after = read_cursor(params.get("cursor"))
        if after is not None and not query.text and not after.isdigit():
            raise ApiError(400, "invalid_cursor", "cursor is not one this API gave for "
                           "this search; start again without it")
        page = self.queries.search(query, after=after, size=read_limit(params.get("limit")))
        return {"data": [reader_json(r) for r in page.readers],
                "next_cursor": cursor(page.next_after)}

    def get(self, caller: Caller, reader_id: str) -> dict[str, Any]:
        return reader_json(self._reader(reader_id))

    def create(self, caller: Caller, body: Mapping[str, Any]) -> tuple[int, dict[str, Any]]:
        """201 and the reader when added confirmed; 202 when a confirmation was mailed (or
        not: ``result`` says why) and the reader is pending."""
        caller.require("write")
        email = text_field(body, "email")
        language = text_field(body, "language", default="both", limit=8)
        categories = categories_field(body, frozenset())
        status = text_field(body, "status", default="pending", limit=16)
        if status not in ("pending", "active"):
            raise ApiError(422, "invalid", "status must be pending (a confirmation email is "
                           "sent) or active (with a consent record)")
        with answered():
            address = normalize_email(email)
            _, checked = check_preferences(categories, language)
            check_categories(categories, available_categories(self.issues_dir))
            if status == "active":
                consent = _consent(body)
                detail = "consent: " + json.dumps(consent, ensure_ascii=False, sort_keys=True)
                added = self.store.add(address, categories=categories, language=checked,
                                       source="api", status="active",
                                       reason=f"added confirmed by {caller.actor}; {detail}")
                self.log.audit(caller.actor, "add subscriber", address, f"confirmed; {detail}")
                return 201, reader_json(added)
            outcome = self.subscriptions().subscribe(address, Choices(categories, checked), "api")
        self.log.audit(caller.actor, "add subscriber", address,
                       f"pending, confirmation: {outcome.value}")
        found = self.store.find(address)
        return 202, {"result": outcome.value,
                     "subscriber": reader_json(found) if found else None}

    def update(self, caller: Caller, reader_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        caller.require("write")
        reader = self._reader(reader_id)
        language = text_field(body, "language", default=reader.language, limit=8)
        categories = categories_field(body, reader.categories)
        with answered():
            check_categories(categories, available_categories(self.issues_dir))
            changed = self.store.set_preferences(reader.id, categories=categories,
                                                 language=language,
                                                 reason=f"changed by {caller.actor}")
        self.log.audit(caller.actor, "change preferences", reader.email,
                       f"language {changed.language}, categories "
                       f"{','.join(sorted(changed.categories)) or 'all'}")
        return reader_json(changed)

    def unsubscribe(self, caller: Caller, reader_id: str) -> dict[str, Any]:
        caller.require("write")
        reader = self._reader(reader_id)
        if reader.status not in ("active", "pending"):
            return reader_json(reader)
        with answered():
            changed = self.store.set_status(reader.id, "unsubscribed",
                                            f"unsubscribed by {caller.actor}")
        self.log.audit(caller.actor, "unsubscribe", reader.email, f"was {reader.status}")
        return reader_json(changed)

    def erase(self, caller: Caller, reader_id: str) -> None:
        """Delete the reader, keeping only the hash of the address (as ``subscribers
        remove`` does); the audit entry names the id, not the address."""
        caller.require("write")
        reader = self._reader(reader_id)
        with answered():
            self.store.remove(reader.email)
        self.log.audit(caller.actor, "erase subscriber", f"#{reader.id}")

    def _reader(self, reader_id: str) -> Subscriber:
        found = self.store.get(numeric_id(reader_id))
        if found is None:
            raise ApiError(404, "not_found", "no such subscriber")
        return found
