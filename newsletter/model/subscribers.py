"""Subscribers as the rest of the package sees them: plain values, and the checks on them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Literal, get_args

from newsletter.errors import InvalidPreferencesError
from newsletter.model.editions import ReaderPreferences
from newsletter.vocabulary import (
    CATEGORY_CODE,
    LANGUAGES,
    SUBSCRIBER_STATUSES,
    Language,
    SubscriberStatus,
    category_code_problem,
    language_problem,
)

Source = Literal["web", "import", "cli", "api"]
SOURCES: tuple[Source, ...] = get_args(Source)
# The width of subscribers.categories.
_CATEGORIES_WIDTH = 200


@dataclass(frozen=True)
class Subscriber:
    """One subscriber. ``categories`` empty means every category."""

    id: int
    email: str
    status: SubscriberStatus
    categories: frozenset[str]
    language: Language
    source: Source
    created_at: dt.datetime
    updated_at: dt.datetime
    confirmed_at: dt.datetime | None
    confirmation_sent_at: dt.datetime | None


@dataclass(frozen=True)
class Event:
    """One entry of a subscriber's history."""

    id: int
    subscriber_id: int | None
    kind: str
    old_status: str | None
    new_status: str | None
    reason: str
    created_at: dt.datetime


@dataclass(frozen=True)
class Suppression:
    """An address that must not be mailed. ``email`` is None once its owner was erased."""

    email_hash: str
    email: str | None
    reason: str
    detail: str
    created_at: dt.datetime


@dataclass(frozen=True)
class NewSubscriber:
    """One row for :meth:`SubscriberStore.add_many`; ``email`` already normalised."""

    email: str
    categories: frozenset[str] = frozenset()
    language: Language = "both"
    # Kept from an export when moving a list; the time of the import when None.
    created_at: dt.datetime | None = None
    confirmed_at: dt.datetime | None = None
    # Issue 21: frequency, paper limit and follows (a CSV's columns); the default is none.
    preferences: ReaderPreferences = field(default_factory=ReaderPreferences)


@dataclass
class AddManyResult:
    """What :meth:`SubscriberStore.add_many` did with each row."""

    added: int = 0
    already_present: int = 0
    suppressed: int = 0


def check_preferences(categories: Collection[str], language: str) -> tuple[str, Language]:
    """The stored form of ``categories`` and the checked ``language``.

    Raises :class:`InvalidPreferencesError` for a code that is not 2-5 capital letters, an
    unknown language, or more categories than the column holds.
    """
    for code in categories:
        if not CATEGORY_CODE.fullmatch(code):
            raise InvalidPreferencesError(category_code_problem(code))
    if language not in LANGUAGES:
        raise InvalidPreferencesError(language_problem(language))
    stored = ",".join(sorted(set(categories)))
    if len(stored) > _CATEGORIES_WIDTH:
        raise InvalidPreferencesError(f"too many categories ({len(set(categories))})")
    return stored, language


def check_status(status: str) -> None:
    if status not in SUBSCRIBER_STATUSES:
        raise InvalidPreferencesError(
            f"status must be one of {', '.join(SUBSCRIBER_STATUSES)}, not {status!r}"
        )
