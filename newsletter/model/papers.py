"""The paper index's values: a paper as readers were sent it, its identifier, search terms.

One :class:`PaperRecord` per arXiv paper, whatever version or spelling of its identifier
the issues used; :func:`paper_key` makes that one identifier. Search text and queries are
cut into the same terms by :func:`terms`: words for Latin text, overlapping two-character
pieces (bigrams) for Chinese, which has no spaces between words. Both databases index
those terms, so a two-character Chinese word finds its papers on either.
"""

from __future__ import annotations

import datetime as dt
import operator
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from newsletter.cjk import IDEOGRAPHS

_NEW_ID = r"\d{4}\.\d{4,5}"
_OLD_ID = r"[a-zA-Z][a-zA-Z\-]*(?:\.[a-zA-Z]{2})?/\d{7}"
# An identifier alone (``arXiv:2209.01947v2``, ``hep-th/9901001``) or in an arXiv link
# (abs, pdf or html; any host spelling, version, ``.pdf`` suffix, query or fragment).
_ID_OR_LINK = re.compile(
    r"^\s*(?:(?:https?://)?(?:www\.|export\.)?arxiv\.org/(?:abs|pdf|html)/|arxiv:)?"
    rf"(?P<id>{_NEW_ID}|{_OLD_ID})(?:v\d+)?(?:\.pdf)?/?(?:[?#]\S*)?\s*$",
    re.IGNORECASE,
)
_HAN_RUN = re.compile(f"[{IDEOGRAPHS}]+")
_TERM = re.compile(f"([{IDEOGRAPHS}]+)|([^\\W_{IDEOGRAPHS}]+)")
_HAN_SPLIT = re.compile(f"([{IDEOGRAPHS}]+)")
_WORD = re.compile(f"[^\\W_{IDEOGRAPHS}]+")
MAX_QUERY_TERMS = 12  # more terms than this in a query are ignored
# Characters of a query read (the search form takes no more): a Chinese query this long,
# as a URL, stays well within the 8 KB the server takes (``web/http_limits``).
MAX_QUERY_CHARS = 300
SECTIONS = ("featured", "notable")


def paper_key(text: str) -> str | None:
    """The one identifier of the paper ``text`` names, or None when it names none.

    Versions go (``2209.01947v3`` -> ``2209.01947``), links become their identifier, and an
    old-style identifier loses its subject class (``math.AG/0601001`` -> ``math/0601001``),
    as arXiv itself treats both as one paper.
    """
    match = _ID_OR_LINK.match(text[:300])
    if match is None:
        return None
    found = match.group("id")
    if "/" in found:
        archive, number = found.split("/")
        return f"{archive.split('.')[0].lower()}/{number}"
    return found


def fold(text: str) -> str:
    """``text`` as search compares it: compatibility-normalised and case-folded."""
    return unicodedata.normalize("NFKC", text).casefold()


def terms(text: str) -> list[str]:
    """The search terms of ``text``: each word, and each Chinese run as its bigrams.

    ``"深度学习 for Graphs"`` -> ``["深度", "度学", "学习", "for", "graphs"]``. A run of one
    Chinese character is that character.
    """
    pieces = _HAN_SPLIT.split(fold(text))  # other text, a Chinese run, other text, ...
    found = _WORD.findall(pieces[0])
    for n in range(1, len(pieces), 2):
        han = pieces[n]
        if len(han) > 1:
            found += map(operator.add, han, han[1:])
        else:
            found.append(han)
        found += _WORD.findall(pieces[n + 1])
    return found


@dataclass(frozen=True)
class QueryPart:
    """One word of a query, or one Chinese run (its bigrams, which must appear in order).

    ``prefix`` marks a single Chinese character: it matches any bigram starting with it.
    """

    terms: tuple[str, ...]
    prefix: bool = False


def query_parts(query: str) -> list[QueryPart]:
    """What a search for ``query`` looks for: every part must match (at most
    :data:`MAX_QUERY_TERMS`). Operators, quotes and other syntax are not syntax here:
    they are dropped with the other punctuation, so any input is a valid query."""
    parts: list[QueryPart] = []
    for match in _TERM.finditer(fold(query[:MAX_QUERY_CHARS])):
        piece = match.group()[:100]
        if _HAN_RUN.fullmatch(piece):
            if len(piece) == 1:
                parts.append(QueryPart((piece,), prefix=True))
            else:
                parts.append(QueryPart(tuple(piece[i : i + 2] for i in range(len(piece) - 1))))
        else:
            parts.append(QueryPart((piece,)))
        if len(parts) >= MAX_QUERY_TERMS:
            break
    return list(dict.fromkeys(parts))


def words_to_mark(query: str) -> list[str]:
    """The pieces of ``query`` a result should highlight: its words and Chinese runs."""
    return [m.group() for m in _TERM.finditer(fold(query[:MAX_QUERY_CHARS]))][:MAX_QUERY_TERMS]


@dataclass(frozen=True)
class Appearance:
    """A paper in one issue: its date, section, place in that section (from 0), and its
    ``id`` on that issue's page."""

    date: dt.date
    section: str
    position: int
    anchor: str


@dataclass(frozen=True)
class PaperRecord:
    """One paper as the issues that featured it describe it.

    The text comes from its newest appearance, the abstract and Chinese summary from its
    newest featured one; ``appearances`` are oldest first.
    """

    arxiv_id: str
    category: str
    title: str
    title_zh: str | None
    authors: tuple[str, ...]
    authors_truncated: bool
    affiliations: tuple[str, ...]
    abstract: str | None
    summary_zh: str | None
    appearances: tuple[Appearance, ...] = field(default=())

    @property
    def first_date(self) -> dt.date:
        return self.appearances[0].date

    @property
    def last_date(self) -> dt.date:
        return self.appearances[-1].date

    @property
    def abs_url(self) -> str:
        return f"https://arxiv.org/abs/{self.arxiv_id}"

    @property
    def pdf_url(self) -> str:
        return f"https://arxiv.org/pdf/{self.arxiv_id}"

    @property
    def html_url(self) -> str:
        return f"https://arxiv.org/html/{self.arxiv_id}"

    def author_line(self) -> str:
        line = ", ".join(self.authors)
        return line + ", et al." if self.authors_truncated else line

    def search_fields(self) -> tuple[str, str, str]:
        """The text searched, by weight: titles; authors and affiliations; the rest."""
        return (
            " ".join(t for t in (self.title, self.title_zh) if t),
            " ".join((*self.authors, *self.affiliations)),
            " ".join(t for t in (self.abstract, self.summary_zh, self.arxiv_id) if t),
        )

    def before(self, date: dt.date) -> tuple[Appearance, ...]:
        """The appearances in issues earlier than ``date``."""
        return tuple(a for a in self.appearances if a.date < date)


def merge(entries: Iterable[PaperRecord]) -> PaperRecord:
    """One record from the records of one paper in several issues (each with its
    appearances): the newest appearance's text, the newest featured abstract and summary,
    every appearance oldest first."""
    records = list(entries)
    if len(records) == 1 and len(records[0].appearances) == 1:
        return records[0]  # a paper of one issue, as most are: nothing to merge
    ordered = sorted(records, key=lambda r: (r.appearances[0].date, r.appearances[0].section))
    newest = ordered[-1]
    featured = [r for r in ordered if r.abstract]
    texts = featured[-1] if featured else newest
    appearances = sorted({a for r in ordered for a in r.appearances},
                         key=lambda a: (a.date, SECTIONS.index(a.section), a.position))
    return replace(newest, abstract=texts.abstract, summary_zh=texts.summary_zh,
                   appearances=tuple(appearances))


@dataclass(frozen=True)
class SearchPage:
    """One page of search results (best first) and whether there are more after it."""

    papers: tuple[PaperRecord, ...]
    more: bool
