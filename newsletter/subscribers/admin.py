"""What an operator does to one subscriber from the command line: add with or without opt-in."""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path

from newsletter.issues.categories import available_categories, check_categories
from newsletter.model.addresses import normalize_email
from newsletter.model.subscribers import check_preferences
from newsletter.store.subscribers import SubscriberStore
from newsletter.subscribers.choices import Choices
from newsletter.subscribers.workflow import SignupOutcome, Subscriptions


@dataclass(frozen=True)
class Added:
    """What :func:`add` did: the normalised address, and either a new id or an outcome."""

    address: str
    subscriber_id: int | None = None  # set when added as active at once
    outcome: SignupOutcome | None = None  # set when the double opt-in workflow ran


def add(
    store: SubscriberStore,
    subscriptions: Callable[[], Subscriptions],
    issues_dir: Path,
    email: str,
    categories: Collection[str],
    language: str,
    *,
    confirmed: bool,
) -> Added:
    """Add one subscriber: active at once when ``confirmed``, else pending with a confirmation.

    ``subscriptions`` makes the double opt-in workflow, only when it is needed; the
    categories must be known to the issue files in ``issues_dir``.

    Raises ``InvalidPreferencesError`` / ``UnknownCategoryError`` for choices no issue file
    describes, ``InvalidAddressError`` for a bad address, ``SubscriberExistsError`` or
    ``SuppressedAddressError`` when ``confirmed`` and the address is taken or suppressed.
    """
    chosen = frozenset(categories)
    _, checked_language = check_preferences(chosen, language)
    check_categories(chosen, available_categories(issues_dir))
    if confirmed:
        added = store.add(
            email, categories=chosen, language=checked_language, source="cli",
            status="active", reason="added with the command line",
        )
        return Added(added.email, subscriber_id=added.id)
    address = normalize_email(email)
    choices = Choices(chosen, checked_language)
    outcome = subscriptions().subscribe(address, choices, "cli")
    return Added(address, outcome=outcome)
