"""Issue files on disk: the ``YYYY-MM-DD.yaml`` naming rule, in one place."""

from __future__ import annotations

import datetime as dt
import os
import re
from functools import lru_cache
from pathlib import Path

from newsletter.errors import IssueFileError

DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
SUFFIX = ".yaml"


def is_date(text: str) -> bool:
    """True for a real calendar date written strictly as ``YYYY-MM-DD``."""
    if not DATE.fullmatch(text):
        return False
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        return False
    return True


def file_name(date: dt.date | str) -> str:
    """``2022-09-07.yaml`` for that date."""
    text = date.isoformat() if isinstance(date, dt.date) else date
    return f"{text}{SUFFIX}"


def is_issue_file(path: Path) -> bool:
    """True when the file's name is an issue's: a valid date and ``.yaml``."""
    return path.suffix == SUFFIX and is_date(path.stem)


def issue_files(issues_dir: Path) -> list[Path]:
    """The issue files in a folder, oldest first (names sort by date)."""
    if not issues_dir.is_dir():
        return []
    return sorted(p for p in issues_dir.glob(f"*{SUFFIX}") if is_issue_file(p))


def path_for(issues_dir: Path, date: str) -> Path | None:
    """The existing issue file for ``date`` in ``issues_dir``, or None (no traversal)."""
    if not is_date(date):
        return None
    path = issues_dir / file_name(date)
    return path if path.is_file() else None


def _not_a_date(text: str) -> str:
    """Why ``YYYY-MM-DD`` text is no calendar date."""
    year, month = int(text[:4]), int(text[5:7])
    if not 1 <= month <= 12:
        return f"there is no month {text[5:7]}"
    if int(text[8:]) == 0 or year == 0:
        return "days and years start at 1"
    following = dt.date(year + (month == 12), month % 12 + 1, 1)
    return f"{text[:7]} has {(following - dt.timedelta(days=1)).day} days"


def date_ref(ref: str) -> str | None:
    """The date an issue reference names when it is written as one (``YYYY-MM-DD``), else None.

    Raises :class:`IssueFileError` when it is written as a date but is none (2026-02-30):
    taken for a file name, it would only be "no such file".
    """
    if not DATE.fullmatch(ref):
        return None
    if not is_date(ref):
        raise IssueFileError(f"{ref} is not a date (YYYY-MM-DD): {_not_a_date(ref)}")
    return ref


def resolve(ref: str, issues_dir: Path) -> Path:
    """An issue file from a path, or from a date (``issues_dir/DATE.yaml``).

    Raises :class:`IssueFileError` for a reference written as a date that is none.
    """
    path = Path(ref)
    if path.exists():
        return path
    date = date_ref(ref)
    return issues_dir / file_name(date) if date is not None else path


def expand_paths(paths: list[Path]) -> list[Path]:
    """The files named, each directory replaced by its ``*.yaml`` files, sorted.

    Raises :class:`IssueFileError` for a directory with no ``*.yaml`` file in it.
    """
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(path.glob(f"*{SUFFIX}"))
            if not found:
                raise IssueFileError(f"{path}: no issue files (*{SUFFIX}) in this directory")
            files += found
        else:
            files.append(path)
    return files


# (name, size, modification time in ns) of every issue file in a folder, sorted by name
# (that is, by date): any added, removed or edited file changes it, so caches key on it.
Fingerprint = tuple[tuple[str, int, int], ...]


@lru_cache(maxsize=16384)
def _is_issue_name(name: str) -> bool:
    # Cached: called for every file on every look, and parsing the date is the slow part.
    return is_issue_file(Path(name))


def fingerprint(issues_dir: Path) -> Fingerprint:
    """Names, sizes and modification times of the issue files; ``()`` if unreadable."""
    try:
        with os.scandir(issues_dir) as entries:
            found = []
            for entry in entries:
                if _is_issue_name(entry.name) and entry.is_file():
                    stat = entry.stat()
                    found.append((entry.name, stat.st_size, stat.st_mtime_ns))
    except OSError:
        return ()
    found.sort()
    return tuple(found)
