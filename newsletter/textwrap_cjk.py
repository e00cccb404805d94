"""Line wrapping that counts East Asian wide characters as two columns.

Latin text breaks at spaces; CJK text may break between any two characters, except
that closing punctuation never starts a line.
"""

from __future__ import annotations

import unicodedata

WIDTH = 72
_NO_LINE_START = set(",。、;:!?)」』》〉】,.;:!?)")


def char_width(ch: str) -> int:
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def display_width(text: str) -> int:
    return sum(char_width(ch) for ch in text)


def _tokens(text: str) -> list[str]:
    """Split into breakable units: runs of non-space Latin, single CJK characters, spaces."""
    out: list[str] = []
    word = ""
    for ch in text:
        if ch == " ":
            if word:
                out.append(word)
                word = ""
            out.append(" ")
        elif char_width(ch) == 2 and ch not in _NO_LINE_START:
            if word:
                out.append(word)
            word = ch
            out.append(word)
            word = ""
        elif ch in _NO_LINE_START and not word and out and out[-1] != " ":
            out[-1] += ch  # keep closing punctuation on the previous unit
        else:
            word += ch
    if word:
        out.append(word)
    return out


def wrap_text(text: object, width: int = WIDTH, indent: str = "", first: str | None = None) -> str:
    """Wrap each paragraph of ``text`` to ``width`` display columns.

    ``indent`` starts every line; ``first`` (when given) replaces it on the first line,
    for text that follows something already printed on that line.
    """
    lead = indent if first is None else first
    lines: list[str] = []
    for paragraph in str(text).split("\n"):
        line, used = lead, display_width(lead)
        for token in _tokens(paragraph):
            w = display_width(token)
            if token == " ":  # noqa: S105 -- a space, not a password
                if used > display_width(lead if not lines else indent):
                    line, used = line + " ", used + 1
                continue
            if used + w > width and line.strip():
                lines.append(line.rstrip())
                line, used = indent, display_width(indent)
            line, used = line + token, used + w
        lines.append(line.rstrip())
        lead = indent
    return "\n".join(lines)
