"""Line wrapping that counts East Asian wide characters as two columns.

Latin text breaks at spaces; CJK text may break between any two characters, except
that closing punctuation never starts a line.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left
from collections.abc import Iterable

from newsletter.cjk import WIDE as _WIDE

WIDTH = 72
_NBSP = "\u00a0"
_GLUE = "\x00"
# Closing punctuation, which stays with the unit before it: CJK and full-width forms
# (、。」』》〉】，；：！？）), then their ASCII counterparts.
_CLOSE = "、。」』》〉】，；：！？）,.;:!?)"
# A run of wide units (each a wide character and its closing punctuation), an ASCII or
# other narrow word with its closing punctuation, or spaces.
_RUNS = re.compile(
    rf"(?P<wide>(?:[{_WIDE}][{_CLOSE}]*)+)|(?P<word>[^ {_WIDE}]+[{_CLOSE}]*)|(?P<space> +)"
)
_WIDE_UNIT = re.compile(rf"[{_WIDE}][{_CLOSE}]*")
# The closing punctuation that is one column wide (a wide run holds nothing else narrow).
_NARROW_IN_RUN = re.compile(f"[{re.escape(''.join(ch for ch in _CLOSE if ch.isascii()))}]")


def char_width(ch: str) -> int:
    # Nothing below U+1100 (Hangul Jamo, the first wide block) is wide.
    if ch < "\u1100":
        return 1
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def display_width(text: str) -> int:
    if text.isascii():
        return len(text)
    return sum(char_width(ch) for ch in text)


def wrap_text(text: object, width: int = WIDTH, indent: str = "", first: str | None = None) -> str:
    """Wrap each paragraph of ``text`` to ``width`` display columns.

    ``indent`` starts every line; ``first`` (when given) replaces it on the first line,
    for text that follows something already printed on that line. Runs of spaces
    between words become one space. A unit wider than the line (a long URL) gets a
    line of its own rather than being cut.
    """
    lead = indent if first is None else first
    lines: list[str] = []
    for paragraph in str(text).split("\n"):
        if paragraph.isascii():
            _wrap_ascii(paragraph, width, lead, indent, lines)
        else:
            _Line(lines, width, lead, indent).add_all(paragraph)
        lead = indent
    return "\n".join(lines)


def _wrap_ascii(paragraph: str, width: int, lead: str, indent: str, lines: list[str]) -> None:
    """The common case, without a regex: words are what lies between spaces."""
    parts = [lead]
    used = start = display_width(lead)
    indent_width = display_width(indent)
    for word in paragraph.split(" "):
        if not word:
            continue
        size = len(word)
        if used > start:
            if used + 1 + size > width:
                lines.append("".join(parts))
                parts = [indent, word]
                start = indent_width
                used = start + size
            else:
                parts += (" ", word)
                used += 1 + size
        else:
            parts.append(word)
            used += size
    lines.append("".join(parts).rstrip())


class _Line:
    """The line being filled while one paragraph with wide characters is wrapped."""

    def __init__(self, lines: list[str], width: int, lead: str, indent: str) -> None:
        self.lines, self.width, self.indent = lines, width, indent
        self.indent_width = display_width(indent)
        self.parts = [lead]
        self.used = self.start = display_width(lead)

    def add_all(self, paragraph: str) -> None:
        space = False
        for match in _RUNS.finditer(paragraph):
            kind, unit = match.lastgroup, match.group()
            if kind == "space":
                space = self.used > self.start
            elif kind == "word":
                w = len(unit) if unit.isascii() else display_width(unit)
                self.place(unit, w, space)
                space = False
            else:
                self.place_run(unit, space)
                space = False
        self.lines.append("".join(self.parts).rstrip())

    def place(self, unit: str, w: int, space: bool) -> None:
        """Put one unbreakable unit on the line, or on a new one when it does not fit."""
        gap = 1 if space else 0
        if self.used + gap + w > self.width and self.used > self.start:
            self.newline()
            gap = 0
        if gap:
            self.parts.append(" ")
        self.parts.append(unit)
        self.used += gap + w

    def newline(self) -> None:
        self.lines.append("".join(self.parts))
        self.parts = [self.indent]
        self.used = self.start = self.indent_width

    def place_run(self, run: str, space: bool) -> None:
        """A run of wide characters (with their closing punctuation) may break between any two.

        Every character of a run is two columns wide except ASCII closing punctuation, so
        the width of its first k characters is 2k less the narrow ones among them. Each line
        takes as many characters as fit at once, moved back so that closing punctuation
        never starts the next line.
        """
        narrow = [m.start() for m in _NARROW_IN_RUN.finditer(run)]

        def columns(k: int) -> int:
            return 2 * k - bisect_left(narrow, k)

        pos = 0
        while pos < len(run):
            gap = 1 if space else 0
            target = columns(pos) + self.width - self.used - gap
            end = min(max(pos + (target - columns(pos)) // 2, pos), len(run))
            while end < len(run) and columns(end + 1) <= target:
                end += 1
            while pos < end < len(run) and run[end] in _CLOSE:
                end -= 1
            if end == pos:
                if self.used > self.start:
                    self.newline()
                    space = False
                    continue
                # An empty line takes the first unit even when it is too wide.
                end = _WIDE_UNIT.match(run, pos).end()  # type: ignore[union-attr]
            if gap:
                self.parts.append(" ")
            self.parts.append(run[pos:end])
            self.used += gap + columns(end) - columns(pos)
            pos = end
            space = False


def wrap_items(
    items: Iterable[str], sep: str = ", ", width: int = WIDTH, indent: str = "",
    first: str | None = None,
) -> str:
    """Wrap a list (authors, affiliations) like :func:`wrap_text`, never inside an item.

    "D Rao" stays on one line: the spaces inside an item are glued while wrapping, then
    turned back into ordinary spaces. The glue is NUL, one column wide like a space and
    ASCII (so ASCII lists take the fast path); issue text never holds control characters,
    and a list that does is glued with no-break spaces instead.
    """
    texts = [str(item) for item in items]
    glue = _NBSP if any(_GLUE in t for t in texts) else _GLUE
    glued = sep.join(t.replace(" ", glue) for t in texts)
    return wrap_text(glued, width, indent, first).replace(glue, " ")


def wrap_list(items: Iterable[str], sep: str = " · ", width: int = WIDTH) -> str:
    """Wrap a list breaking only between items, each line but the last ending in ``sep``
    (stripped): a category legend never splits "计算与语言" or "Computer Vision"."""
    lines: list[str] = []
    line = ""
    for item in items:
        joined = f"{line}{sep}{item}" if line else item
        if line and display_width(joined + sep.rstrip()) > width:
            lines.append(line + sep.rstrip())
            line = item
        else:
            line = joined
    return "\n".join([*lines, line]) if line else "\n".join(lines)

