"""The public archive: which issues readers may see, read once and cached.

An issue is public when its campaign sent it (the campaign is done, or at least one
delivery was sent: an enqueued snapshot does not count), or, with
``NEWSLETTER_ARCHIVE_UNSENT=true``, when its date has passed in ``NEWSLETTER_TIMEZONE``.
Anything else (a future issue, today's issue before it goes out, an unsent one) is not
found. The same rule serves ``newsletter serve`` and ``newsletter site``.

Reading a thousand issue files takes a second or two, so the published list is cached,
keyed by the fingerprint of the issue folder (names, sizes and modification times), the
set of sent dates and today's date; each file is parsed again only when it changes.
Computing that key costs a ``stat`` per file and a query, so it is recomputed at most
once per :data:`RECHECK_SECONDS`: a save or a finished campaign shows within a second.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path

from newsletter.errors import DatabaseError
from newsletter.issues.categories import DEFAULT_CATEGORIES
from newsletter.issues.files import Fingerprint, fingerprint
from newsletter.issues.many import load_many
from newsletter.issues.model import CategoryName, Issue, Paper
from newsletter.model.site import SiteConfig

log = logging.getLogger(__name__)

PAGE_SIZE = 10  # issues per archive page, each with its papers listed
RECHECK_SECONDS = 1.0  # how stale the archive may be

# (file name, size, mtime_ns) of every issue file, sorted by name, that is by date.


def is_public(date: dt.date, sent: frozenset[str], today: dt.date, archive_unsent: bool) -> bool:
    """The publication rule (see the module docstring)."""
    return date.isoformat() in sent or (archive_unsent and date < today)


@dataclass(frozen=True)
class Published:
    """The public issues, newest first, and the key that names this state of the archive."""

    issues: tuple[Issue, ...]
    key: tuple[object, ...]
    # Each public issue's date and the version of its file (size and modification time).
    versions: Mapping[str, str] = field(default_factory=dict)

    @cached_property
    def by_date(self) -> Mapping[str, Issue]:
        return {issue.date.isoformat(): issue for issue in self.issues}

    @cached_property
    def categories(self) -> Mapping[str, CategoryName]:
        """Every category code in the legends of the public issues; the newest names win."""
        legend: dict[str, CategoryName] = {}
        for issue in reversed(self.issues):  # oldest first: newer names overwrite
            legend.update(issue.categories)
        return dict(sorted(legend.items()))

    @property
    def pages(self) -> int:
        """How many archive pages there are (at least one, which may say "nothing yet")."""
        return max(1, -(-len(self.issues) // PAGE_SIZE))

    def page(self, number: int) -> tuple[Issue, ...] | None:
        """The issues on archive page ``number`` (from 1), or None when there is no such page."""
        if not 1 <= number <= self.pages:
            return None
        start = (number - 1) * PAGE_SIZE
        return self.issues[start : start + PAGE_SIZE]

    def papers_in(self, code: str) -> list[tuple[Issue, Paper]]:
        """Every paper in category ``code``, newest issue first, in issue order within one."""
        return [(issue, paper) for issue in self.issues for paper in issue.papers
                if paper.category == code]


# Parsed issues by (path, size, mtime_ns): an edited file is read again, an unchanged one
# never. Years of daily issues fit.
_LOADED: dict[tuple[Path, int, int], Issue | None] = {}
_LOADED_MAX = 8192
_LOADED_LOCK = threading.Lock()


def _load_all(keys: list[tuple[Path, int, int]]) -> list[Issue | None]:
    """The issues of ``keys`` (path, size, mtime_ns), parsing those not parsed yet."""
    with _LOADED_LOCK:
        missing = [key for key in keys if key not in _LOADED]
    parsed = dict(zip(missing, load_many([key[0] for key in missing]), strict=True))
    with _LOADED_LOCK:
        for key, (issue, error) in parsed.items():
            if error is not None:
                log.warning("archive: %s is left out: %s", key[0], error)
            if len(_LOADED) >= _LOADED_MAX:
                _LOADED.pop(next(iter(_LOADED)))  # the oldest entry
            _LOADED[key] = issue
        found = {key: _LOADED.get(key) for key in keys}
    found.update((key, issue) for key, (issue, _) in parsed.items())
    return [found[key] for key in keys]


@lru_cache(maxsize=16)
def _published(
    issues_dir: Path, files: Fingerprint, sent: frozenset[str], today: dt.date,
    archive_unsent: bool,
) -> Published:
    public = [
        (issues_dir / name, size, mtime_ns)
        for name, size, mtime_ns in reversed(files)  # newest first
        if is_public(dt.date.fromisoformat(Path(name).stem), sent, today, archive_unsent)
    ]  # unpublished files are not parsed at all
    loaded = [(issue, f"{size}:{mtime_ns}")
              for issue, (_, size, mtime_ns) in zip(_load_all(public), public, strict=True)
              if issue is not None]
    return Published(tuple(issue for issue, _ in loaded),
                     (issues_dir, files, sent, today, archive_unsent),
                     {issue.date.isoformat(): version for issue, version in loaded})


class Archive:
    """The public issues of ``site.issues_dir``.

    ``sent_dates`` returns the dates whose campaigns sent them (the store's
    ``sent_issue_dates``); ``clock`` gives the current aware time. :meth:`published` does
    file-system and database work when it rechecks: call it in a thread from async code.
    """

    def __init__(
        self, site: SiteConfig, sent_dates: Callable[[], frozenset[str]],
        clock: Callable[[], dt.datetime], recheck_seconds: float = RECHECK_SECONDS,
    ) -> None:
        self.site = site
        self.sent_dates = sent_dates
        self.clock = clock
        self.recheck_seconds = recheck_seconds
        self._lock = threading.Lock()
        self._last: tuple[dt.datetime, Published] | None = None

    def reader_categories(self) -> Mapping[str, CategoryName]:
        """The categories readers may choose on the web: those of the public issues, so
        that a code found only in an unsent or future file is never offered (the built-in
        ones before the first issue is public). While the database fails, those of the
        last reading."""
        try:
            published: Published | None = self.published()
        except DatabaseError:
            last = self._last
            published = last[1] if last is not None else None
        if published is None or not published.categories:
            return DEFAULT_CATEGORIES
        return published.categories

    def today(self) -> dt.date:
        return self.clock().astimezone(self.site.zone).date()

    def published(self, fresh: bool = False) -> Published:
        """The public issues now (at most ``recheck_seconds`` old by ``clock``; checked
        again at once with ``fresh``, as after the desk saved an issue)."""
        # Under the lock, so that concurrent requests after a change (or at start-up) wait
        # for one reading of the files instead of each doing it.
        with self._lock:
            now = self.clock()
            if self._last is not None and not fresh:
                age = (now - self._last[0]).total_seconds()
                if 0 <= age < self.recheck_seconds:
                    return self._last[1]
            found = _published(
                self.site.issues_dir, fingerprint(self.site.issues_dir),
                self.sent_dates(), self.today(), self.site.archive_unsent,
            )
            self._last = (now, found)
            return found
