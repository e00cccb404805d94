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


@dataclass(frozen=True)
class Problem:
    """What is wrong with one field of a form: said in Chinese, then in English."""

    field: str
    zh: str
    en: str

    def error(self) -> FormError:
        return FormError(self.field, self.en)


def read_choices(
    categories: Iterable[str], language: str, available: Collection[str]
) -> Choices | Problem:
    """Submitted form values as :class:`Choices`, or the :class:`Problem` with them.

    Ticking every available category stores the empty set ("everything"), so readers who
    want it all also get categories added later.
    """
    chosen = frozenset(c.strip() for c in categories if c.strip())
    unknown = sorted(chosen - set(available))
    if unknown:
        codes = ", ".join(unknown)
        which = "这个分类" if len(unknown) == 1 else "这些分类"
        return Problem("categories", f"没有{which}：{codes}。请只选择列出的分类。",
                       f"unknown categories: {codes}")
    if not chosen:
        return Problem("categories", "请至少选择一个分类。", "choose at least one category")
    if language not in LANGUAGES:
        return Problem("language", "请选择中文、英文或中英双语。",
                       "choose Chinese, English or both")
    return Choices(frozenset() if chosen >= set(available) else chosen, language)


def parse_choices(categories: Iterable[str], language: str, available: Collection[str]) -> Choices:
    """Turn submitted form values into :class:`Choices`; raise :class:`FormError` if invalid
    (see :func:`read_choices`)."""
    read = read_choices(categories, language, available)
    if isinstance(read, Problem):
        raise read.error()
    return read


def read_address(raw: str) -> str | Problem:
    """The normalised address from a form, or the :class:`Problem` with it."""
    try:
        return normalize_email(raw)
    except NewsletterError as err:
        zh = "请填写邮箱地址。" if not raw.strip() else "这不是有效的邮箱地址，请检查写法。"
        return Problem("email", zh, str(err))


def parse_address(raw: str) -> str:
    """The normalised address from a form; raises :class:`FormError` naming the ``email`` field."""
    read = read_address(raw)
    if isinstance(read, Problem):
        raise read.error()
    return read


def describe_choices(choices: Choices, language: Language) -> str:
    """A line naming the categories and the language, in the reader's language(s)."""
    cats = ", ".join(sorted(choices.categories))
    # Chinese punctuation in the Chinese line: full-width colons and semicolon, 、 between items.
    zh_cats = "、".join(sorted(choices.categories))
    zh = f"分类：{zh_cats or '全部'}；语言：{LANGUAGE_NAMES['zh'][choices.language]}"
    en = f"Categories: {cats or 'all'}; language: {LANGUAGE_NAMES['en'][choices.language]}"
    return {"zh": zh, "en": en}.get(language, f"{zh}\n{en}")


def choices_of(subscriber: Subscriber, available: Mapping[str, CategoryName]) -> set[str]:
    """The categories to show ticked for ``subscriber`` (all of them when it chose "all")."""
    return set(subscriber.categories or available)
