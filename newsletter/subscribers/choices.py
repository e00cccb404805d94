"""What a reader chose (categories and a language): read from a form, described in mail."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass

from newsletter.errors import FormError, NewsletterError
from newsletter.issues.model import CategoryName
from newsletter.model.addresses import normalize_email
from newsletter.model.subscribers import Subscriber
from newsletter.vocabulary import LANGUAGES, Language

LANGUAGE_NAMES: dict[str, dict[str, str]] = {
    "zh": {"zh": "中文", "en": "英文", "both": "中英双语"},
    "en": {"zh": "Chinese", "en": "English", "both": "Chinese and English"},
}


@dataclass(frozen=True)
class Choices:
    """What a reader chose: categories (empty means every category) and a language."""

    categories: frozenset[str]
    language: Language


def parse_choices(categories: Iterable[str], language: str, available: Collection[str]) -> Choices:
    """Turn submitted form values into :class:`Choices`; raise :class:`FormError` if invalid.

    Ticking every available category stores the empty set ("everything"), so readers who
    want it all also get categories added later.
    """
    chosen = frozenset(c.strip() for c in categories if c.strip())
    unknown = sorted(chosen - set(available))
    if unknown:
        raise FormError("categories", f"unknown categories: {', '.join(unknown)}")
    if not chosen:
        raise FormError("categories", "choose at least one category")
    if language not in LANGUAGES:
        raise FormError("language", "choose Chinese, English or both")
    return Choices(frozenset() if chosen >= set(available) else chosen, language)


def parse_address(raw: str) -> str:
    """The normalised address from a form; raises :class:`FormError` naming the ``email`` field."""
    try:
        return normalize_email(raw)
    except NewsletterError as err:
        raise FormError("email", str(err)) from None


def describe_choices(choices: Choices, language: Language) -> str:
    """A line naming the categories and the language, in the reader's language(s)."""
    cats = ", ".join(sorted(choices.categories))
    zh = f"分类:{cats or '全部'};语言:{LANGUAGE_NAMES['zh'][choices.language]}"
    en = f"Categories: {cats or 'all'}; language: {LANGUAGE_NAMES['en'][choices.language]}"
    return {"zh": zh, "en": en}.get(language, f"{zh}\n{en}")


def choices_of(subscriber: Subscriber, available: Mapping[str, CategoryName]) -> set[str]:
    """The categories to show ticked for ``subscriber`` (all of them when it chose "all")."""
    return set(subscriber.categories or available)
