"""The categories readers may choose: the union of the legends of every issue file.

Readers choose categories on the web form, with ``subscribers add --category`` and in
imported lists; editors build variants with ``build --category``. All of them check codes
against :func:`available_categories`, so a code that no issue has ever described cannot be
stored, and a code dropped from today's legend stays choosable while older issues use it.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping
from functools import lru_cache
from pathlib import Path

from newsletter.errors import IssueValidationError, UnknownCategoryError
from newsletter.issues.files import Fingerprint, fingerprint
from newsletter.issues.loader import load_issue
from newsletter.issues.model import CategoryName

log = logging.getLogger(__name__)

DEFAULT_CATEGORIES: dict[str, CategoryName] = {
    "LG": CategoryName(zh="机器学习", en="Machine Learning"),
    "CV": CategoryName(zh="计算机视觉", en="Computer Vision"),
    "CL": CategoryName(zh="计算与语言", en="Computation and Language"),
    "AS": CategoryName(zh="音频与语音", en="Audio and Speech"),
    "RO": CategoryName(zh="机器人", en="Robotics"),
}


def available_categories(issues_dir: Path) -> dict[str, CategoryName]:
    """The union of the category legends of the issue files (``YYYY-MM-DD.yaml``) in ``issues_dir``.

    For a code described by several files, the newest file's names win. Unreadable files
    are logged once and skipped; with no readable file the defaults are returned. Each call
    costs one directory listing and a ``stat`` per file: files are parsed again only when
    their modification time changes.
    """
    return dict(_union(issues_dir, fingerprint(issues_dir)))


def unknown_categories(codes: Collection[str], known: Collection[str]) -> list[str]:
    """The codes in ``codes`` that are not in ``known``, sorted."""
    return sorted(set(codes) - set(known))


def check_categories(codes: Collection[str], known: Collection[str]) -> None:
    """Raise :class:`UnknownCategoryError` naming the unknown codes and the known ones."""
    unknown = unknown_categories(codes, known)
    if unknown:
        raise UnknownCategoryError(describe_unknown(unknown, known))


def describe_unknown(unknown: Collection[str], known: Collection[str]) -> str:
    """``unknown category ZZ; known: AS, CL, ...`` for error messages and import reports."""
    plural = "categories" if len(unknown) > 1 else "category"
    return f"unknown {plural} {', '.join(unknown)}; known: {', '.join(sorted(known))}"


@lru_cache(maxsize=8)
def _union(issues_dir: Path, files: Fingerprint) -> Mapping[str, CategoryName]:
    legend: dict[str, CategoryName] = {}
    for name, _size, mtime_ns in files:  # oldest first, so the newest names overwrite older ones
        legend.update(_legend(issues_dir / name, mtime_ns))
    return legend or DEFAULT_CATEGORIES


# Years of daily issues fit; an edit adds one entry, so the cache stays small.
@lru_cache(maxsize=8192)
def _legend(path: Path, mtime_ns: int) -> Mapping[str, CategoryName]:
    try:
        return load_issue(path).categories
    except (IssueValidationError, OSError) as err:
        log.warning("cannot read categories from %s (%s); skipping it", path, err)
        return {}
