"""Each reader's own newsletter (issue 21): how often, how many papers, what they follow.

Plain values and their one text form, shared by the reader's page, the desk, CSV import and
export and the send path:

- **frequency**: ``daily``; ``weekly:MON`` ... ``weekly:SUN`` (the week's best on that
  weekday, no daily issues); ``paused:YYYY-MM-DD`` (nothing for issues dated before that
  day; from that day on the reader is daily again without anyone doing anything).
- **max_papers**: all (``None``) or one of :data:`MAX_PAPERS_CHOICES`; a small fixed set,
  because it is part of the variant key and each variant is rendered once.
- **follows**: keywords, ``author:NAME`` and ``affiliation:NAME``, ``;``-separated, at most
  :data:`MAX_FOLLOWS` of at most :data:`MAX_FOLLOW_CHARS` characters each.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal, get_args

from newsletter.errors import InvalidPreferencesError

FrequencyKind = Literal["daily", "weekly", "paused"]
FREQUENCY_KINDS: tuple[FrequencyKind, ...] = get_args(FrequencyKind)
WEEKDAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")
MAX_PAPERS_CHOICES: tuple[int, ...] = (10, 5, 3)
FollowKind = Literal["keyword", "author", "affiliation"]
FOLLOW_KINDS: tuple[FollowKind, ...] = get_args(FollowKind)
MAX_FOLLOWS = 20
MAX_FOLLOW_CHARS = 80
# The stored and exported form of all follows together must fit its column.
FOLLOWS_WIDTH = 2000
# A pause longer than this is not a pause; the reader should unsubscribe instead.
MAX_PAUSE = dt.timedelta(days=366)
_FOLLOW_SEPARATOR = re.compile(r"[;\n；]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_KINDS: dict[str, FollowKind] = {kind: kind for kind in FOLLOW_KINDS}


@dataclass(frozen=True)
class Frequency:
    """How often a reader gets mail; ``weekday`` (0 = Monday) for weekly, ``until`` for
    paused."""

    kind: FrequencyKind = "daily"
    weekday: int | None = None
    until: dt.date | None = None

    @classmethod
    def parse(cls, text: str) -> Frequency:
        """``daily``, ``weekly:MON``...``weekly:SUN`` or ``paused:YYYY-MM-DD`` (case does
        not matter; empty is daily). Raises :class:`InvalidPreferencesError`."""
        kind, _, value = text.strip().partition(":")
        kind = kind.strip().lower() or "daily"
        value = value.strip()
        if kind == "daily" and not value:
            return cls()
        if kind == "weekly" and value.upper() in WEEKDAYS:
            return cls("weekly", weekday=WEEKDAYS.index(value.upper()))
        if kind == "paused":
            try:
                return cls("paused", until=dt.date.fromisoformat(value))
            except ValueError:
                pass
        raise InvalidPreferencesError(
            f"frequency {text.strip()[:40]!r} is not daily, weekly:MON ... weekly:SUN "
            "or paused:YYYY-MM-DD"
        )

    def __str__(self) -> str:
        if self.kind == "weekly" and self.weekday is not None:
            return f"weekly:{WEEKDAYS[self.weekday]}"
        if self.kind == "paused" and self.until is not None:
            return f"paused:{self.until.isoformat()}"
        return "daily"

    def on(self, day: dt.date) -> Frequency:
        """This frequency as it applies to an issue of ``day``: a pause that has ended is
        daily again."""
        if self.kind == "paused" and self.until is not None and self.until <= day:
            return Frequency()
        return self

    def gets_daily(self, day: dt.date) -> bool:
        """Whether the daily issue of ``day`` goes to a reader with this frequency."""
        return self.on(day).kind == "daily"

    def gets_weekly(self, day: dt.date) -> bool:
        """Whether the weekly edition dated ``day`` goes to a reader with this frequency."""
        return self.kind == "weekly" and self.weekday == day.weekday()


@dataclass(frozen=True, order=True)
class Follow:
    """One thing a reader follows: a keyword, an author or an affiliation."""

    kind: FollowKind
    text: str

    @classmethod
    def parse(cls, item: str) -> Follow:
        """``author:NAME``, ``affiliation:NAME`` or a plain keyword (a keyword may itself
        hold a colon only after a space, e.g. ``keyword:a:b`` is the keyword ``a:b``).
        Raises :class:`InvalidPreferencesError`."""
        head, sep, rest = item.partition(":")
        kind: FollowKind = "keyword"
        text = item
        if sep and head.strip().lower() in FOLLOW_KINDS:
            kind = _KINDS[head.strip().lower()]
            text = rest
        text = " ".join(text.split())
        if not text:
            raise InvalidPreferencesError(f"follow {item.strip()[:40]!r} names nothing")
        if _CONTROL.search(text) or _FOLLOW_SEPARATOR.search(text):
            raise InvalidPreferencesError(
                f"follow {text[:30]!r} holds a ';' or a control character; write one per item"
            )
        if len(text) > MAX_FOLLOW_CHARS:
            raise InvalidPreferencesError(
                f"follow {text[:30]!r}... is longer than {MAX_FOLLOW_CHARS} characters"
            )
        return cls(kind, text)

    def __str__(self) -> str:
        return self.text if self.kind == "keyword" else f"{self.kind}:{self.text}"


@lru_cache(maxsize=65_536)
def _follow(item: str) -> Follow:
    # Readers share follows ("diffusion"): a send reads each distinct one once.
    return Follow.parse(item)


def parse_follows(cell: str) -> tuple[Follow, ...]:
    """Follows from one ``;``-separated cell (or one per line), duplicates (ignoring case)
    dropped, in the order given. Raises :class:`InvalidPreferencesError` for a bad item or
    more than :data:`MAX_FOLLOWS`."""
    found: list[Follow] = []
    seen: set[tuple[str, str]] = set()
    for item in _FOLLOW_SEPARATOR.split(cell):
        if not item.strip():
            continue
        follow = _follow(item)
        key = (follow.kind, follow.text.casefold())
        if key not in seen:
            seen.add(key)
            found.append(follow)
    if len(found) > MAX_FOLLOWS:
        raise InvalidPreferencesError(f"{len(found)} follows; at most {MAX_FOLLOWS} are kept")
    return tuple(found)


def parse_max_papers(cell: str) -> int | None:
    """``""`` or ``all`` for every paper, else one of :data:`MAX_PAPERS_CHOICES`.
    Raises :class:`InvalidPreferencesError`."""
    value = cell.strip().lower()
    if value in ("", "all"):
        return None
    if value.isdigit() and int(value) in MAX_PAPERS_CHOICES:
        return int(value)
    choices = ", ".join(str(n) for n in MAX_PAPERS_CHOICES)
    raise InvalidPreferencesError(
        f"max_papers {cell.strip()[:20]!r} is not empty (all) or one of {choices}"
    )


@dataclass(frozen=True)
class ReaderPreferences:
    """A reader's frequency, paper limit and follows; the default is daily, all, none."""

    frequency: Frequency = Frequency()
    max_papers: int | None = None
    follows: tuple[Follow, ...] = ()

    @property
    def is_default(self) -> bool:
        return self == ReaderPreferences()

    def on(self, day: dt.date) -> ReaderPreferences:
        """These preferences as they apply on ``day``: a pause that ended is daily."""
        return ReaderPreferences(self.frequency.on(day), self.max_papers, self.follows)

    def follows_cell(self) -> str:
        """The follows as one ``;``-separated cell (the CSV and stored form)."""
        return "; ".join(str(f) for f in self.follows)

    def max_papers_cell(self) -> str:
        return "" if self.max_papers is None else str(self.max_papers)


def parse_preferences(frequency: str, max_papers: str, follows: str) -> ReaderPreferences:
    """The three text cells (as CSV and forms give them) as checked preferences.

    Raises :class:`InvalidPreferencesError` naming the first cell that is wrong.
    """
    prefs = ReaderPreferences(
        Frequency.parse(frequency), parse_max_papers(max_papers), parse_follows(follows)
    )
    if len(prefs.follows_cell()) > FOLLOWS_WIDTH:
        raise InvalidPreferencesError(f"the follows are longer than {FOLLOWS_WIDTH} characters")
    return prefs


def check_pause(frequency: Frequency, today: dt.date) -> None:
    """Refuse a pause that ends in the past or more than a year ahead (a form's input;
    an import may carry an old pause, which simply means daily)."""
    if frequency.kind != "paused" or frequency.until is None:
        return
    if frequency.until <= today:
        raise InvalidPreferencesError("choose a day after today for the pause to end")
    if frequency.until - today > MAX_PAUSE:
        raise InvalidPreferencesError("a pause can last at most a year")


# A weekly edition is a campaign of its own, beside the daily issue of the same day: its
# key is "W" and the date's digits (campaigns.issue_date holds ten characters).
WEEKLY_PREFIX = "W"


def weekly_key(day: dt.date) -> str:
    """The campaign key of the weekly edition dated ``day``: ``W20261206``."""
    return f"{WEEKLY_PREFIX}{day:%Y%m%d}"


def weekly_day(key: str) -> dt.date | None:
    """The date of a weekly edition's campaign key, or None for any other key."""
    if not (key.startswith(WEEKLY_PREFIX) and len(key) == 9 and key[1:].isdigit()):
        return None
    try:
        return dt.datetime.strptime(key[1:], "%Y%m%d").date()
    except ValueError:
        return None
