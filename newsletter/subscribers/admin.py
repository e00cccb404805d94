"""What an operator does to one subscriber from the command line: add with or without opt-in."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from newsletter import wiring
from newsletter.issues.categories import available_categories, check_categories
from newsletter.model.addresses import normalize_email
from newsletter.model.subscribers import check_preferences
from newsletter.settings import Settings
from newsletter.store.subscribers import SubscriberStore
from newsletter.subscribers.workflow import Choices, Outcome


@dataclass(frozen=True)
class Added:
    """What :func:`add` did: the normalised address, and either a new id or an outcome."""

    address: str
    subscriber_id: int | None = None  # set when added as active at once
    outcome: Outcome | None = None  # set when the double opt-in workflow ran


def add(
    settings: Settings,
    store: SubscriberStore,
    email: str,
    categories: Collection[str],
    language: str,
    *,
    confirmed: bool,
) -> Added:
    """Add one subscriber: active at once when ``confirmed``, else pending with a confirmation.

    Raises ``InvalidPreferencesError`` / ``UnknownCategoryError`` for choices no issue file
    describes, ``InvalidAddressError`` for a bad address, ``SubscriberExistsError`` or
    ``SuppressedAddressError`` when ``confirmed`` and the address is taken or suppressed.
    """
    chosen = frozenset(categories)
    _, checked_language = check_preferences(chosen, language)
    check_categories(chosen, available_categories(settings.issues_dir))
    if confirmed:
        added = store.add(
            email, categories=chosen, language=checked_language, source="cli",
            status="active", reason="added with the command line",
        )
        return Added(added.email, subscriber_id=added.id)
    address = normalize_email(email)
    choices = Choices(chosen, checked_language)
    outcome = wiring.subscriptions(settings, store).subscribe(address, choices, "cli")
    return Added(address, outcome=outcome)
