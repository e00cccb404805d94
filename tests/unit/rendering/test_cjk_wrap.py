"""The plaintext wrapper: its fast paths give exactly what the plain per-unit loop gives."""

from __future__ import annotations

import random
import re

import pytest
from support.env import SAMPLE_ISSUE

from newsletter.issues.loader import load_issue
from newsletter.rendering.cjk_wrap import _CLOSE, _WIDE, display_width, wrap_items, wrap_text

_UNITS = re.compile(
    rf"(?P<wide>[{_WIDE}][{_CLOSE}]*)|(?P<word>[^ {_WIDE}]+[{_CLOSE}]*)|(?P<space> +)"
)
_WIDE_CHAR = re.compile(f"[{_WIDE}]")


def unit_by_unit(text: str, width: int = 72, indent: str = "", first: str | None = None) -> str:
    """The straightforward wrapper (the one before the fast paths): one unit at a time."""
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


def texts() -> list[str]:
    """The sample's real texts, and random mixes of CJK, punctuation, words and spaces."""
    issue = load_issue(SAMPLE_ISSUE)
    real = [issue.summary or "", issue.footer or ""]
    for paper in issue.featured:
        real += [paper.title, paper.title_zh or "", paper.summary_zh or "", paper.abstract]
    pieces = ["模型", "学习", "，", "。", "、", "」", "：", "）", ",", ".", " ", "  ", "AI",
              "Transformer", "x" * 80, "GFlowNets", "的", "《论文》", "！", "?", "\n", "2022-09-07"]
    rng = random.Random(11)
    mixed = ["".join(rng.choice(pieces) for _ in range(rng.randint(1, 120))) for _ in range(400)]
    return real + mixed


@pytest.mark.slow
def test_fast_paths_match_the_unit_by_unit_wrapper() -> None:
    """For real and random texts, widths and indents, the output is the same, byte for byte."""
    for n, text in enumerate(texts()):
        for width, indent, first in ((72, "", None), (72, "   ", "1. [LG] "), (20, "  ", None),
                                     (9, "    ", "   ["), (71, "   ", None)):
            assert wrap_text(text, width, indent, first) == unit_by_unit(
                text, width, indent, first
            ), (n, text, width, indent, first)


def test_full_width_punctuation_never_starts_a_line() -> None:
    """A full-width comma or colon stays at the end of the line with the character before it."""
    text = "模" * 35 + "，" + "型" * 10 + "：" + "学" * 40
    for width in range(8, 80):
        for line in wrap_text(text, width).splitlines():
            assert line[0] not in "，：", (width, line)
            assert display_width(line) <= width or len(line) <= 2


def test_lists_wrap_between_items_as_before() -> None:
    """wrap_items breaks only between items, exactly as gluing with no-break spaces did."""
    issue = load_issue(SAMPLE_ISSUE)
    rng = random.Random(7)
    names = ["D Rao", "Jean-Baptiste Mouret", "张 三", "李四", "A" * 60, "M de Berg", "X"]
    lists = [p.authors for p in issue.papers] + [p.affiliations for p in issue.papers]
    lists += [[rng.choice(names) for _ in range(rng.randint(1, 15))] for _ in range(200)]
    for items in lists:
        for sep, width, indent, first in ((", ", 72, "   ", None), (" & ", 71, "    ", "   [")):
            glued = sep.join(item.replace(" ", "\u00a0") for item in items)
            expected = unit_by_unit(glued, width, indent, first).replace("\u00a0", " ")
            assert wrap_items(items, sep, width, indent, first) == expected, items
