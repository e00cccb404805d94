"""Hostile issue files: each passes one of the parser's limits (``issues/limits.py``)."""

from __future__ import annotations

import re

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


def hostile_files() -> dict[str, str]:
    sample = SAMPLE_ISSUE.read_text(encoding="utf-8")
    # The sample's own title line, whatever it says (a fixed string would stop matching,
    # and the hostile files would quietly be the sample, when its title changes).
    title = re.search(r"^title: .*$", sample, re.M)
    assert title is not None, f"{SAMPLE_ISSUE} has no title line"
    TITLE = title.group(0)
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


# -- hostile search queries (issue 20) ---------------------------------------------------

# Syntax of SQLite FTS5, PostgreSQL tsquery and SQL, and text that trips up parsers.
_QUERY_PIECES = (
    '"', "'", "''", '""', "AND", "OR", "NOT", "NEAR", "NEAR(a b, 3)", "(", ")", "*", "^",
    ":", "title:", "{title people}:", "+", "-", "&", "|", "!", "<->", "<2>", ":*", "\\",
    "%", "_", "%%", "'; DROP TABLE papers; --", "1=1", "/*", "*/", "--", ";", "$1", "?",
    "\x00", "\x1b[31m", "\u202e", "\u200b", "\ufeff", "e\u0301", "ﬁ", "Ⅻ", "ＡＢＣ", "𝔘𝔫𝔦",
    "🙂", "👩‍🔬", "稀疏", "稀", "深度学习", "機器", "한국어", "العربية", "<script>", "</mark>",
    "&amp;", "%00", "%ff", "2209.01947", "arXiv:", "https://arxiv.org/abs/", "hep-th/",
    "v2", ".pdf", "sparse", "Fedus", "model", "\t", "\n", " ", "\r\n",
)


def hostile_queries(count: int, seed: int = 20) -> list[str]:
    """``count`` queries made of :data:`_QUERY_PIECES` and random characters, plus 10 KB
    of junk, the same for every run of one ``seed``."""
    import random

    rng = random.Random(seed)
    queries = ["x" * 10_240, "稀" * 5_000, '"' * 10_240, "(" * 5_000 + ")" * 5_000,
               " AND ".join(["a"] * 2_000), "".join(chr(rng.randrange(32, 0xD7FF))
                                                  for _ in range(3_500))]
    while len(queries) < count:
        parts = [rng.choice(_QUERY_PIECES) if rng.random() < 0.8
                 else chr(rng.randrange(1, 0x2FFFF)) for _ in range(rng.randrange(1, 12))]
        glue = rng.choice(("", " ", "  ", '"', "*"))
        text = glue.join(parts)
        queries.append("".join(c for c in text if not 0xD800 <= ord(c) <= 0xDFFF))
    return queries
