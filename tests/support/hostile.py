"""Hostile issue files: each passes one of the parser's limits (``issues/limits.py``)."""

from __future__ import annotations

from support.env import SAMPLE_ISSUE

# The "billion laughs": nine levels of nine aliases each, used as a field's value.
ALIAS_BOMB = "\n".join(
    ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    + [
        f"{chr(98 + n)}: &{chr(98 + n)} [" + ",".join([f"*{chr(97 + n)}"] * 9) + "]"
        for n in range(8)
    ]
    + ["date: *i"]
) + "\n"


TITLE = "title: AI 前沿论文速递 · 2022-09-07"


def hostile_files() -> dict[str, str]:
    sample = SAMPLE_ISSUE.read_text(encoding="utf-8")
    return {
        "alias-bomb": ALIAS_BOMB,
        "deep": "date: " + "[" * 5000 + "]" * 5000 + "\n",
        "deep-mapping": "date:\n" + "".join(" " * n + "a:\n" for n in range(1, 400)),
        "big-number": sample.replace("date: 2022-09-07", "date: " + "9" * 100_000),
        "big-float": "date: 1." + "5" * 100_000 + "\n",
        "huge": sample + "# " + "x" * 3_000_000 + "\n",
        # libyaml reads these as integers (hex, sexagesimal); their decimal form has more
        # digits than Python converts to text, and base-60 ones take quadratic time.
        "hex-title": sample.replace(TITLE, "title: 0x" + "f" * 5000),
        "sexagesimal-title": sample.replace(TITLE, "title: 1" + ":59" * 150_000),
    }
