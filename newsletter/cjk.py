"""The CJK character ranges, written once: strings for character classes, and patterns.

Each constant is the inside of a regex character class (``f"[{IDEOGRAPHS}]"``). The
sets differ on purpose; pick the one whose comment matches the question being asked.
"""

from __future__ import annotations

import re

# The basic CJK Unified Ideographs block: Chinese text that ends a title before a "." .
UNIFIED_IDEOGRAPHS = "\u4e00-\u9fff"
# Han ideographs (extension A, the basic block, compatibility): is this Chinese writing?
IDEOGRAPHS = f"\u3400-\u4dbf{UNIFIED_IDEOGRAPHS}\uf900-\ufaff"
# Wide (two-column) blocks: Hangul Jamo, CJK punctuation, kana, CJK ideographs, Yi,
# Hangul syllables, compatibility ideographs, vertical and fullwidth forms (line wrapping).
WIDE = (
    "\u1100-\u115f\u2e80-\u303e\u3041-\u33ff\u3400-\u4dbf\u4e00-\u9fff\ua000-\ua4cf"
    "\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6"
)
# CJK punctuation, kana, ideographs and full/half-width forms: is this text Chinese (zh)?
CJK_TEXT = "\u3000-\u9fff\uf900-\ufaff\uff00-\uffef"

# One Han ideograph.
IDEOGRAPH_RE = re.compile(f"[{IDEOGRAPHS}]")
# One character that marks text as CJK, for choosing a language tag.
CJK_TEXT_RE = re.compile(f"[{CJK_TEXT}]")
