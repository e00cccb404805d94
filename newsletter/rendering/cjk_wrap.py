"""Line wrapping that counts East Asian wide characters as two columns.

Latin text breaks at spaces; CJK text may break between any two characters, except
that closing punctuation never starts a line.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

WIDTH = 72
_NBSP = "\u00a0"
# Wide (two-column) blocks: Hangul Jamo, CJK punctuation, kana, CJK ideographs, Yi,
# Hangul syllables, compatibility ideographs, vertical and fullwidth forms.
_WIDE = (
    "\u1100-\u115f\u2e80-\u303e\u3041-\u33ff\u3400-\u4dbf\u4e00-\u9fff\ua000-\ua4cf"
    "\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6"
)
# Closing punctuation, which stays with the unit before it.
_CLOSE = ",。、;:!?)」』》〉】,.;:!?)"
_UNITS = re.compile(
    rf"(?P<wide>[{_WIDE}][{_CLOSE}]*)|(?P<word>[^ {_WIDE}]+[{_CLOSE}]*)|(?P<space> +)"
)
_WIDE_CHAR = re.compile(f"[{_WIDE}]")


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
    indent_width = display_width(indent)
    lines: list[str] = []
    for paragraph in str(text).split("\n"):
        parts = [lead]
        used = start = display_width(lead)
        space = False
        for match in _UNITS.finditer(paragraph):
            kind, unit = match.lastgroup, match.group()
            if kind == "space":
                space = used > start
                continue
            if kind == "word":
                w = len(unit) if unit.isascii() else display_width(unit)
            else:
                w = len(unit) + len(_WIDE_CHAR.findall(unit))
            gap = 1 if space else 0
            if used + gap + w > width and used > start:
                lines.append("".join(parts))
                parts = [indent]
                used = start = indent_width
                gap = 0
            if gap:
                parts.append(" ")
            parts.append(unit)
            used += gap + w
            space = False
        lines.append("".join(parts).rstrip())
        lead = indent
    return "\n".join(lines)


def wrap_items(
    items: Iterable[str], sep: str = ", ", width: int = WIDTH, indent: str = "",
    first: str | None = None,
) -> str:
    """Wrap a list (authors, affiliations) like :func:`wrap_text`, never inside an item.

    "D Rao" stays on one line: the spaces inside an item are made non-breaking while
    wrapping, then turned back into ordinary spaces.
    """
    glued = sep.join(str(item).replace(" ", _NBSP) for item in items)
    return wrap_text(glued, width, indent, first).replace(_NBSP, " ")

