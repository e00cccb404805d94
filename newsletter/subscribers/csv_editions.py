"""The CSV columns of issue 21: ``frequency``, ``max_papers`` and ``follows``.

``frequency`` is ``daily`` (or empty), ``weekly:MON`` ... ``weekly:SUN`` or
``paused:YYYY-MM-DD``; ``max_papers`` is empty (every paper) or 10, 5 or 3; ``follows`` is
``;``-separated, each ``author:NAME``, ``affiliation:NAME`` or a plain keyword. A file
without these columns imports every row with the default (daily, every paper, no follows).
"""

from __future__ import annotations

from collections.abc import Callable

from newsletter.model.editions import ReaderPreferences, parse_preferences

EDITION_COLUMNS = ("frequency", "max_papers", "follows")


def read_edition_cells(cell: Callable[[str], str]) -> ReaderPreferences:
    """A row's preferences from its cells (``cell(name)`` is "" for a missing column).
    Raises ``InvalidPreferencesError`` naming the cell that is wrong."""
    return parse_preferences(cell("frequency"), cell("max_papers"), cell("follows"))


def edition_cells(prefs: ReaderPreferences | None) -> tuple[str, str, str]:
    """The three cells an export writes for ``prefs`` (None: the default)."""
    chosen = prefs or ReaderPreferences()
    return str(chosen.frequency), chosen.max_papers_cell(), chosen.follows_cell()
