"""The week's best (issue 21): one edition built from the daily issues of seven days.

``build_weekly`` is pure: the daily issues of the seven days ending on DATE in, one issue
out, no paper twice (where it appeared last counts), ordered by the editor's rank
(featured before notable, then each paper's place in its own issue, the newer day first)
and, where readers' clicks are known, by clicks before that; the first 12 featured and
12 notable papers make the edition. ``write_weekly`` writes it
as an issue file in ``issues/weekly/DATE.yaml``, so that it is checked, rendered and sent
like any issue (its campaign key is ``model.editions.weekly_key``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from newsletter.editing.yaml_writer import issue_yaml, write_new_file
from newsletter.errors import IssueFileError
from newsletter.issues.files import file_name
from newsletter.issues.loader import load_issue
from newsletter.issues.model import (
    FeaturedPaper,
    Issue,
    NotablePaper,
    arxiv_abs_url,
    arxiv_id,
)

WEEK = 7
WEEKLY_DIR = "weekly"
# The week's best, not the week's all: the first this many featured and notable papers,
# which keeps an edition within Gmail's size with whole abstracts and feedback links.
MAX_FEATURED = 12
MAX_NOTABLE = 12


def weekly_title(day: dt.date) -> tuple[str, str]:
    """The Chinese and English subject of the edition dated ``day``."""
    return f"本周精选 · Week of {day.isoformat()}", f"Week's best · Week of {day.isoformat()}"


def week_days(day: dt.date) -> list[dt.date]:
    """The seven days ending on ``day``, oldest first."""
    return [day - dt.timedelta(days=n) for n in range(WEEK - 1, -1, -1)]


def read_week(issues_dir: Path, day: dt.date) -> list[Issue]:
    """The daily issues of the seven days ending on ``day`` that exist, oldest first.

    Raises :class:`IssueFileError` when there is none, and the loader's errors for a file
    that is not a valid issue (an edition is never built from part of a broken week).
    """
    paths = [issues_dir / file_name(d.isoformat()) for d in week_days(day)]
    found = [load_issue(path) for path in paths if path.exists()]
    if not found:
        raise IssueFileError(
            f"no daily issue in {issues_dir} for the week {week_days(day)[0]} to {day}; "
            "a weekly edition is built from them")
    return found


def build_weekly(issues: Sequence[Issue], day: dt.date,
                 clicks: Mapping[str, int] | None = None) -> Issue:
    """The week's best of ``issues`` (oldest first), dated ``day``; ``clicks`` by arXiv id."""
    clicks = clicks or {}
    ranked: list[tuple[tuple[int, int, int, int], FeaturedPaper | NotablePaper]] = []
    seen: set[str] = set()
    for age, issue in enumerate(reversed(issues)):  # newest first: age 0
        places: list[FeaturedPaper | NotablePaper] = [*issue.featured, *issue.notable]
        for place, paper in enumerate(places):
            if paper.arxiv_id in seen:
                continue
            seen.add(paper.arxiv_id)
            featured = isinstance(paper, FeaturedPaper)
            rank = place if featured else place - len(issue.featured)
            ranked.append(((0 if featured else 1, -clicks.get(paper.arxiv_id, 0), rank, age),
                           paper))
    ranked.sort(key=lambda item: item[0])
    featured_list = [p for _, p in ranked if isinstance(p, FeaturedPaper)][:MAX_FEATURED]
    notable_list = [p for _, p in ranked if not isinstance(p, FeaturedPaper)][:MAX_NOTABLE]
    categories: dict[str, Any] = {}
    for issue in reversed(issues):
        for code, name in issue.categories.items():
            categories.setdefault(code, name)
    used = {p.category for p in [*featured_list, *notable_list]}
    zh, en = weekly_title(day)
    newest = issues[-1]
    return Issue(
        date=day, title=zh, title_en=en, attribution=newest.attribution,
        categories={c: n for c, n in categories.items() if c in used} or newest.categories,
        featured=featured_list, notable=notable_list,
        footer=newest.footer, footer_en=newest.footer_en,
    )


def clicks_by_paper(by_link: Mapping[str, int]) -> dict[str, int]:
    """Readers' clicks per arXiv id, from clicks per link (other links are left out)."""
    found: dict[str, int] = {}
    for link, n in by_link.items():
        try:
            paper = arxiv_id(arxiv_abs_url(link))
        except ValueError:
            continue
        found[paper] = found.get(paper, 0) + n
    return found


def weekly_path(issues_dir: Path, day: dt.date) -> Path:
    """Where the edition dated ``day`` is written: ``issues/weekly/DATE.yaml``."""
    return issues_dir / WEEKLY_DIR / file_name(day.isoformat())


def write_weekly(issues_dir: Path, day: dt.date, clicks: Mapping[str, int] | None = None,
                 *, overwrite: bool = False) -> tuple[Path, Issue]:
    """Build the edition dated ``day`` from ``issues_dir`` and write its file; the path and
    the issue. Raises ``IssueFileError``, ``IssueValidationError`` (the file exists and
    ``overwrite`` is false, or it cannot be written)."""
    issue = build_weekly(read_week(issues_dir, day), day, clicks)
    path = weekly_path(issues_dir, day)
    data = issue.model_dump(mode="json", exclude_defaults=True)
    header = (f"The week's best of {week_days(day)[0]} to {day}, built by "
              "`newsletter weekly --build`; rebuilt from the daily issues, not edited by hand.")
    write_new_file(path, issue_yaml(data, header), overwrite=overwrite)
    return path, issue
