"""How often and how much a reader gets, and what they follow (issue 21): read from the
reader's form or the desk's, each problem said in Chinese and in English.

The form has separate fields (frequency, weekday, pause end, paper limit, and a list each
of keywords, authors and affiliations, one per line); they become one
:class:`~newsletter.model.editions.ReaderPreferences`, checked by the model's one set of
rules, as a CSV row's cells are.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from newsletter.errors import InvalidPreferencesError
from newsletter.model.editions import (
    MAX_FOLLOW_CHARS,
    MAX_FOLLOWS,
    WEEKDAYS,
    Follow,
    FollowKind,
    Frequency,
    ReaderPreferences,
    check_pause,
    parse_follows,
    parse_max_papers,
)
from newsletter.subscribers.choices import Problem

# The follow lists of the form, each a textarea with one item per line.
FOLLOW_FIELDS: dict[str, FollowKind] = {
    "keywords": "keyword", "authors": "author", "affiliations": "affiliation",
}


@dataclass(frozen=True)
class DeliveryForm:
    """The form's fields as text, to show again (as they were typed) next to a problem."""

    frequency: str = "daily"
    weekday: str = "MON"
    until: str = ""
    max_papers: str = ""
    keywords: str = ""
    authors: str = ""
    affiliations: str = ""

    @classmethod
    def of(cls, prefs: ReaderPreferences) -> DeliveryForm:
        """The form filled in with stored preferences."""
        freq = prefs.frequency
        lists = {name: "\n".join(f.text for f in prefs.follows if f.kind == kind)
                 for name, kind in FOLLOW_FIELDS.items()}
        return cls(
            frequency=freq.kind,
            weekday=WEEKDAYS[freq.weekday] if freq.weekday is not None else "MON",
            until=freq.until.isoformat() if freq.until else "",
            max_papers=prefs.max_papers_cell(),
            **lists,
        )

    @classmethod
    def posted(cls, form: Mapping[str, object]) -> DeliveryForm:
        """The submitted fields, each cut to a sane length."""
        def text(name: str, size: int) -> str:
            return str(form.get(name, "") or "")[:size]
        lists = {name: text(name, (MAX_FOLLOW_CHARS + 2) * (MAX_FOLLOWS + 5))
                 for name in FOLLOW_FIELDS}
        return cls(text("frequency", 10), text("weekday", 5), text("until", 12),
                   text("max_papers", 5), **lists)


def read_delivery(form: DeliveryForm, today: dt.date) -> ReaderPreferences | Problem:
    """The preferences a form asks for, or the :class:`Problem` with its first wrong field.

    A pause must end after ``today`` and within a year.
    """
    if form.frequency == "weekly":
        if form.weekday not in WEEKDAYS:
            return Problem("weekday", "请选择星期几。", "choose a weekday")
        frequency = Frequency("weekly", weekday=WEEKDAYS.index(form.weekday))
    elif form.frequency == "paused":
        try:
            frequency = Frequency("paused", until=dt.date.fromisoformat(form.until.strip()))
            check_pause(frequency, today)
        except ValueError:
            return Problem("until", "请填写恢复接收的日期（YYYY-MM-DD）。",
                           "give the day to resume as YYYY-MM-DD")
        except InvalidPreferencesError as err:
            return Problem("until", "暂停须在今天之后、一年之内结束。", str(err))
    elif form.frequency == "daily":
        frequency = Frequency()
    else:
        return Problem("frequency", "请选择每天、每周或暂停。", "choose daily, weekly or paused")
    try:
        max_papers = parse_max_papers(form.max_papers)
    except InvalidPreferencesError:
        return Problem("max_papers", "请选择每封邮件的论文数。", "choose how many papers per email")
    follows: list[Follow] = []
    for name, kind in FOLLOW_FIELDS.items():
        lines = [line for line in getattr(form, name).splitlines() if line.strip()]
        try:
            follows += [Follow.parse(f"{kind}:{line}") for line in lines]
        except InvalidPreferencesError as err:
            return Problem(name, f"每项最多 {MAX_FOLLOW_CHARS} 个字符。", str(err))
    try:
        checked = parse_follows("; ".join(str(f) for f in follows))
    except InvalidPreferencesError as err:
        return Problem("keywords", f"关注的内容最多 {MAX_FOLLOWS} 项。", str(err))
    return ReaderPreferences(frequency, max_papers, checked)
