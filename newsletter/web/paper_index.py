"""Keeping the paper index current: the papers of the published issues, in the database.

:func:`sync` compares the version of every public issue file (size and modification
time, from :class:`Published`) with the versions the index holds, reads again only the
issues that changed, and drops the ones no longer public. :class:`PaperIndex` does that
whenever the archive's state changes (a new, edited or newly sent issue; checked at most
once a second, as the archive itself is), and at once after the desk saves an issue.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from newsletter.errors import ConfigurationError
from newsletter.issues.papers import issue_papers
from newsletter.model.papers import PaperRecord
from newsletter.store.papers import PaperStore
from newsletter.web.archive import Archive, Published

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SyncReport:
    """What one :func:`sync` did: issues read again, issues dropped, papers merged again;
    ``busy`` when it did nothing because another change of the index was under way."""

    issues: int
    removed: int
    papers: int
    busy: bool = False


def sync(store: PaperStore, published: Published, wait: bool = True, full: bool = False
         ) -> SyncReport:
    """Make the index hold exactly the papers of ``published``; without ``wait``, only
    if no other change of the index is under way (else nothing is done). With ``full``
    every issue is indexed again, in the same one transaction: searches see the old
    index until the new one is whole."""
    indexed = store.versions()
    by_date = published.by_date
    changed: dict[str, tuple[str, list[PaperRecord]]] = {
        date: (version, issue_papers(by_date[date]))
        for date, version in published.versions.items()
        if full or indexed.get(date) != version
    }
    removed = sorted(set(indexed) - set(published.versions))
    merged = store.apply(changed, removed, wait=wait)
    if merged is None:
        return SyncReport(0, 0, 0, busy=True)
    return SyncReport(len(changed), len(removed), merged)


def folder_missing(archive: Archive) -> str | None:
    """Why the index must not be brought up to ``archive`` now: its issues folder does not
    exist (a mistyped NEWSLETTER_ISSUES_DIR would otherwise drop every paper), or None."""
    folder = archive.site.issues_dir
    if folder.is_dir():
        return None
    return (f"the issues folder {folder} does not exist (NEWSLETTER_ISSUES_DIR): the paper "
            "index is left as it is")


def reindex(store: PaperStore, archive: Archive, full: bool = False) -> SyncReport:
    """Bring the index up to the issues ``archive`` publishes now (their files read
    again); with ``full``, index every issue again, in one transaction."""
    problem = folder_missing(archive)
    if problem is not None:
        raise ConfigurationError(problem)
    return sync(store, archive.published(fresh=True), full=full)


class PaperIndex:
    """The index of the issues ``archive`` publishes, synced when that state changes.

    Reading the archive does file and database work: call
    :meth:`current` in a thread from async code.
    """

    def __init__(self, store: PaperStore, archive: Archive) -> None:
        self.store = store
        self.archive = archive
        self._lock = threading.Lock()
        self._synced: tuple[object, ...] | None = None
        self._changes = 0  # syncs that changed the index, for the facets' cache
        self._missing: str | None = None  # why the index was last left alone
        self._facets: tuple[object, tuple[list[str], list[int]]] | None = None

    def current(self, fresh: bool = False, recheck: bool = False, wait: bool = True
                ) -> Published:
        """The published issues, with the index brought up to them first. With
        ``recheck``, the index is compared with them even if they did not change: the
        database may have (a rebuild killed midway, a restored backup); a recheck while
        another process changes the index leaves it to that process. Without ``wait``
        (a reader's request), while another thread of this process is bringing the index
        up to date, the index is used as it is rather than waited for (after the first
        sync of the process: before it, a paper could be missing, and its page a 404)."""
        published = self.archive.published(fresh)
        problem = folder_missing(self.archive)
        if problem is not None:
            # Said once, and only when it matters: when the index holds issues that a
            # sync with the folder as it is would drop.
            if self._missing != problem and self.store.versions():
                log.error("paper index: %s", problem)
            self._missing = problem
            return published
        self._missing = None
        if not self._lock.acquire(blocking=wait or self._synced is None):
            return published
        try:
            if recheck or self._synced != published.key:
                report = sync(self.store, published, wait=not recheck)
                self._synced = published.key
                self._changes += bool(report.issues or report.removed)
        finally:
            self._lock.release()
        return published

    def facets(self) -> tuple[list[str], list[int]]:
        """The categories and years search can filter by, counted once per index state."""
        with self._lock:
            state, cached = (self._synced, self._changes), self._facets
        if cached is not None and cached[0] == state:
            return cached[1]
        found = self.store.facets()
        with self._lock:
            self._facets = (state, found)
        return found

    def reindex(self) -> None:
        """Compare every issue again now (after the desk saved one)."""
        self.current(fresh=True)
