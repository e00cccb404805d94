"""Chinese text set with Chinese punctuation, as ``import-digest`` writes an issue's Chinese.

Digests are often typed with ASCII punctuation ("能力,被认为", "选项(MO2),一种"); Chinese
typesetting uses the full-width forms (W3C clreq). In text holding Han characters, a
comma, semicolon, colon, question or exclamation mark next to a Han character becomes
full-width, and so does a pair of parentheses that touches one (or holds one). Latin text
inside is left alone ("MO2: 基于模型", "1,000", "GFlowNets").
"""

from __future__ import annotations

import re
from typing import Any

from newsletter.cjk import IDEOGRAPHS

_HAN = re.compile(f"[{IDEOGRAPHS}]")
_FULL = {",": "，", ";": "；", ":": "：", "?": "？", "!": "！"}
_PARENS = re.compile(r"\(([^()\n]*)\)")
# A mark after Han or a full-width closing mark (spaces after it dropped), or right before
# Han; "MO2: 基于模型" (Latin, then a spaced colon) is left as written.
_MARK = re.compile(f"(?<=[{IDEOGRAPHS}）])[,;:?!] *|[,;:?!](?=[{IDEOGRAPHS}])")


def full_width(text: str) -> str:
    """``text`` with Chinese punctuation where it touches Chinese (see the module)."""
    if not _HAN.search(text):
        return text

    def parens(found: re.Match[str]) -> str:
        before = text[found.start() - 1 : found.start()]
        after = text[found.end() : found.end() + 1]
        if _HAN.search(before + found.group(1) + after):
            return f"（{found.group(1)}）"
        return found.group(0)

    text = _PARENS.sub(parens, text)
    return _MARK.sub(lambda m: _FULL[m.group(0)[0]], text)


CHINESE_FIELDS = ("title", "attribution", "summary", "footer")
CHINESE_PAPER_FIELDS = ("title_zh", "summary_zh")


def typeset_issue_data(data: dict[str, Any]) -> dict[str, Any]:
    """Raw issue data (as ``import-digest`` builds it) with its Chinese texts in Chinese
    punctuation: the issue-wide ones and each paper's Chinese title and summary."""
    out = dict(data)
    for name in CHINESE_FIELDS:
        if isinstance(out.get(name), str):
            out[name] = full_width(out[name])
    for section in ("featured", "notable"):
        if isinstance(out.get(section), list):
            out[section] = [
                {k: full_width(v) if k in CHINESE_PAPER_FIELDS and isinstance(v, str) else v
                 for k, v in paper.items()} if isinstance(paper, dict) else paper
                for paper in out[section]
            ]
    return out
