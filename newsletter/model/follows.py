"""Which papers a reader's follows match (issue 21): case-insensitive, whole words.

"Whole words" means a followed word is not part of a longer word written in an alphabet:
``GAN`` matches "GAN-based" and "的GAN模型" but not "GANs" or "organ". Chinese has no
spaces between words, so a followed Chinese term matches wherever it occurs ("扩散模型"
in "基于扩散模型的"). Spaces inside a follow match any run of white space.

Keywords are looked for in the titles (both languages) and the summaries and abstracts;
authors among the author names, affiliations among the affiliations.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from newsletter.cjk import CJK_TEXT
from newsletter.model.editions import Follow

# A letter or digit of an alphabet (not CJK, not an underscore): what a word boundary is
# between.
_ALPHABETIC = f"[^\\W_{CJK_TEXT}]"
_ALPHABETIC_RE = re.compile(_ALPHABETIC)


@dataclass(frozen=True)
class PaperText:
    """What follows are matched against, for one paper."""

    arxiv_id: str
    text: str
    authors: tuple[str, ...]
    affiliations: tuple[str, ...]


@lru_cache(maxsize=4096)
def follow_pattern(text: str) -> re.Pattern[str]:
    """The compiled, case-insensitive whole-word pattern of one follow's text."""
    words = text.split()
    body = r"\s+".join(re.escape(word) for word in words)
    left = f"(?<!{_ALPHABETIC})" if _ALPHABETIC_RE.match(words[0][0]) else ""
    right = f"(?!{_ALPHABETIC})" if _ALPHABETIC_RE.match(words[-1][-1]) else ""
    return re.compile(f"{left}{body}{right}", re.IGNORECASE)


def matches(follow: Follow, paper: PaperText) -> bool:
    """Whether ``follow`` matches ``paper``."""
    pattern = follow_pattern(follow.text)
    if follow.kind == "author":
        return any(pattern.search(name) for name in paper.authors)
    if follow.kind == "affiliation":
        return any(pattern.search(name) for name in paper.affiliations)
    return pattern.search(paper.text) is not None


class Matcher:
    """Matches follows against one variant's papers, each (follow, paper) pair once.

    Many readers share follows ("diffusion"), so what a follow matches is kept: a reader
    costs a dictionary look-up per follow once the follow has been seen.
    """

    def __init__(self, papers: Sequence[PaperText]) -> None:
        self.papers = list(papers)
        self._found: dict[tuple[str, str], tuple[int, ...]] = {}

    def _of(self, follow: Follow) -> tuple[int, ...]:
        key = (follow.kind, follow.text.casefold())
        found = self._found.get(key)
        if found is None:
            found = tuple(i for i, p in enumerate(self.papers) if matches(follow, p))
            self._found[key] = found
        return found

    def chosen(self, follows: Iterable[Follow]) -> list[tuple[str, list[str]]]:
        """The papers ``follows`` match, in the variant's order, each with the follows'
        texts that matched it (in the reader's order)."""
        hits: dict[int, list[str]] = {}
        for follow in follows:
            for index in self._of(follow):
                hits.setdefault(index, []).append(follow.text)
        return [(self.papers[i].arxiv_id, hits[i]) for i in sorted(hits)]
