"""Reading the plaintext daily digest (as readers received it) into issue data.

The layout, one item per line (blank lines do not matter)::

    LG - 机器学习 CV - 计算机视觉 ...            the legend
    转自爱可可爱生活                              attribution (optional)
    摘要:...                                      summary (optional)
    1、[LG] English title                        a featured paper: number, category, title
    S Salter, M Wulfmeier...                     authors (``...`` when cut short)
    [DeepMind & Google]                          affiliations (optional)
    中文标题。中文摘要...                          Chinese title and summary (optional)
    The English abstract ...                     abstract
    https://arxiv.org/abs/2209.01947             link
    另外几篇值得关注的论文:                        the notable papers (optional)
    [CV] English title中文标题                    category, title, Chinese title glued on...
    中文标题                                      ...or on the next line (optional)
    T Fu, L Li                                   authors, affiliations (optional), link
    内容中包含的图片若涉及版权问题...                footer notice (optional)

Page chrome after the footer (comment counters and the like) is dropped. Full-width and
half-width punctuation are both accepted. A block that cannot be read raises
:class:`DigestFormatError` with its line and what was expected.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from newsletter.cjk import IDEOGRAPH_RE, UNIFIED_IDEOGRAPHS
from newsletter.errors import DigestFormatError
from newsletter.issues.categories import DEFAULT_CATEGORIES

_CODE = r"([A-Za-z]{2,5})"
_LEGEND_ITEM = re.compile(r"(?:^|\s)([A-Z]{2,5})\s*[-–—]\s*")
_SUMMARY = re.compile(r"^摘要\s*[:：]\s*(.*)$")
_FEATURED = re.compile(rf"^(\d{{1,3}})\s*[、.．]\s*[\[【]\s*{_CODE}\s*[\]】]\s*(.+)$")
_NOTABLE_HEADING = re.compile(r"^另外几篇值得关注的论文\s*[:：]?$")
_NOTABLE = re.compile(rf"^[\[【]\s*{_CODE}\s*[\]】]\s*(.+)$")
_AFFILIATIONS = re.compile(r"^[\[【](.*)[\]】]$")
_LINK = re.compile(r"^https?://\S+$")
# Each pattern that starts with a repeated character class may begin only where such a run
# begins ((?<!...)): otherwise a search tries again inside the run, quadratic in its length.
_TRUNCATED = re.compile(r"(?<!\s)\s*(?:\.{3}|(?<!…)…+|等)\s*$")
_AUTHOR_SPLIT = re.compile(r"(?<!\s)\s*[,，、;；]\s*")
_AFFILIATION_SPLIT = re.compile(r"(?<!\s)(?:\s+&\s+|\s*[;；]\s*)")
# Affiliations sometimes arrive glued together ("Hong KongUniversity of Washington"); a
# lower-case letter directly followed by one of these words starts a new one.
_GLUED_AFFILIATION = re.compile(
    r"(?<=[a-z])(?=(?:University|Universit[éäà]|Institute|College|School|Laboratory|"
    r"Academy|Center|Centre|National)\b)"
)
# What the page around a copied digest adds after the footer: comment and share counters.
_CHROME = re.compile(
    r"^(?:评论|转发|收藏|点赞|分享|赞|沙发等你来抢|查看更多.*|展开全文|\d+(?:\s*条评论)?)$"
)
_ARXIV_NEW_ID = re.compile(r"/(\d{2})(\d{2})\.(\d{4,5})")
# Refused anywhere: C0 and C1 controls but tab (NEL, U+0085, would also end a line in the
# YAML written), line and paragraph separators, and the noncharacters XML cannot carry.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\ufffe\uffff]")


@dataclass(frozen=True)
class _Line:
    number: int
    text: str


@dataclass
class ParsedDigest:
    """What the text carries: issue data without its date, and where each paper began."""

    data: dict[str, Any]
    lines: dict[tuple[str, int], int]
    newest_month: tuple[int, int, str] | None  # (year, month, arXiv ID) of the newest new-style ID


class _Reader:
    """A cursor over the non-blank lines of the digest."""

    def __init__(self, text: str, path: str) -> None:
        text = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
        self.path = path
        self.lines = []
        for number, line in enumerate(text.split("\n"), start=1):
            if (bad := _CONTROL.search(line)) is not None:
                raise DigestFormatError(
                    path, number, f"contains the control character U+{ord(bad.group()):04X} "
                    f"at column {bad.start() + 1}; remove it"
                )
            # Every run of spaces (full-width ones too) is one space: the layout never
            # needs more, and no pattern below then meets a long run of them.
            if words := line.split():
                self.lines.append(_Line(number, " ".join(words)))
        self.at = 0

    def peek(self) -> _Line | None:
        return self.lines[self.at] if self.at < len(self.lines) else None

    def take(self) -> _Line:
        line = self.lines[self.at]
        self.at += 1
        return line

    def fail(self, line: _Line | None, expected: str) -> DigestFormatError:
        if line is None:
            last = self.lines[-1].number if self.lines else 1
            return DigestFormatError(self.path, last, f"the text ends here; expected {expected}")
        shown = line.text if len(line.text) <= 60 else line.text[:57] + "..."
        return DigestFormatError(self.path, line.number, f"expected {expected}, found {shown!r}")


def _is_chinese(text: str) -> bool:
    return bool(IDEOGRAPH_RE.search(text))


def _mostly_chinese(text: str) -> bool:
    """Chinese prose rather than English with a Chinese name in it."""
    letters = [c for c in text if not c.isspace()]
    return len(IDEOGRAPH_RE.findall(text)) >= 0.3 * max(len(letters), 1)


def _is_header(text: str) -> bool:
    return bool(_FEATURED.match(text) or _NOTABLE_HEADING.match(text))


def _legend(reader: _Reader) -> dict[str, dict[str, str]]:
    line = reader.peek()
    items = list(_LEGEND_ITEM.finditer(line.text)) if line else []
    if line is None or not items or items[0].start() != 0:
        raise reader.fail(line, "the category legend, e.g. 'LG - 机器学习 CV - 计算机视觉'")
    reader.take()
    legend: dict[str, dict[str, str]] = {}
    for item, after in zip(items, [*items[1:], None], strict=True):
        code = item.group(1).upper()
        name = line.text[item.end(): after.start() if after else None].strip()
        if not name:
            raise reader.fail(line, f"a name after {code} - in the category legend")
        known = DEFAULT_CATEGORIES.get(code)
        # The legend line carries Chinese names only; the built-in English name is added
        # when the Chinese one is the built-in one, so English readers see a legend too.
        if known is not None and known.zh == name and known.en:
            legend[code] = {"zh": name, "en": known.en}
        else:
            legend[code] = {"zh": name} if _is_chinese(name) else {"en": name}
    return legend


def _split_affiliations(text: str) -> list[str]:
    names = []
    for part in _AFFILIATION_SPLIT.split(text):
        names += [p.strip() for p in _GLUED_AFFILIATION.split(part) if p.strip()]
    return names


def _people(reader: _Reader, expected_after: str) -> tuple[list[str], bool, list[str]]:
    """The authors line and the optional affiliations line."""
    line = reader.peek()
    if line is None or _LINK.match(line.text) or _AFFILIATIONS.match(line.text) or _is_header(
        line.text
    ):
        raise reader.fail(line, f"the authors ('A Author, B Author') after {expected_after}")
    reader.take()
    truncated = bool(_TRUNCATED.search(line.text))
    authors = [a for a in _AUTHOR_SPLIT.split(_TRUNCATED.sub("", line.text)) if a]
    affiliations: list[str] = []
    nxt = reader.peek()
    if nxt is not None and (found := _AFFILIATIONS.match(nxt.text)):
        reader.take()
        affiliations = _split_affiliations(found.group(1))
    return authors, truncated, affiliations


def _link(reader: _Reader, what: str) -> str:
    line = reader.peek()
    if line is None or not _LINK.match(line.text):
        raise reader.fail(line, f"the paper's link (https://arxiv.org/abs/ID) to end {what}")
    return reader.take().text


def _chinese_title_and_summary(reader: _Reader, lines: Sequence[_Line]) -> tuple[str, str]:
    text = "".join(line.text for line in lines)
    stop = text.find("。")
    if stop < 0:
        # A half-width full stop right after Chinese text also ends the title.
        found = re.search(rf"(?<=[{UNIFIED_IDEOGRAPHS}）)])\.", text)
        stop = found.start() if found else -1
    title, summary = text[:stop].strip(), text[stop + 1:].strip()
    if stop < 0 or not title or not summary:
        raise reader.fail(lines[0], "the Chinese title, '。', then the Chinese summary")
    return title, summary


def _featured(reader: _Reader, header: _Line, legend: dict[str, Any]) -> dict[str, Any]:
    found = _FEATURED.match(header.text)
    assert found is not None
    number, code, title = found.group(1), found.group(2).upper(), found.group(3).strip()
    what = f"entry {number}"
    authors, truncated, affiliations = _people(reader, f"the title of {what}")
    body: list[_Line] = []
    while (line := reader.peek()) is not None and not _LINK.match(line.text):
        if _is_header(line.text):
            break
        body.append(reader.take())
    chinese = []
    while body and _is_chinese(body[0].text):
        chinese.append(body.pop(0))
    if not body:
        raise reader.fail(reader.peek(), f"the English abstract of {what}")
    stray = next((line for line in body if _mostly_chinese(line.text)), None)
    if stray is not None:
        raise reader.fail(
            stray, f"the English abstract of {what} (its Chinese title and summary come first)"
        )
    title_zh = summary_zh = None
    if chinese:
        title_zh, summary_zh = _chinese_title_and_summary(reader, chinese)
    paper = _paper(code, title, title_zh, authors, truncated, affiliations)
    if summary_zh:
        paper["summary_zh"] = summary_zh
    paper["abstract"] = " ".join(line.text for line in body)
    paper["url"] = _link(reader, what)
    _check_code(reader, header, code, legend)
    return paper


def _split_title(text: str) -> tuple[str, str | None]:
    """``English titleChinese title`` -> (English, Chinese); the Chinese may start in Latin.

    "...Deep LearningHammingMesh:大规模..." splits before "HammingMesh:", since the
    Chinese title repeats a word that starts the English title.
    """
    first = IDEOGRAPH_RE.search(text)
    if first is None:
        return text.strip(), None
    english, chinese = text[: first.start()], text[first.start():]
    if english.strip() == "":
        return text.strip(), None
    stem = english.rstrip()
    leading = stem.split()[0]
    tail = stem.split()[-1]
    if tail != leading and tail.endswith(leading) and len(stem.split()) > 1:
        cut = len(stem) - len(leading)
        english, chinese = stem[:cut], stem[cut:] + english[len(stem):] + chinese
    return english.strip(), chinese.strip()


def _notable(reader: _Reader, header: _Line, legend: dict[str, Any]) -> dict[str, Any]:
    found = _NOTABLE.match(header.text)
    assert found is not None
    code = found.group(1).upper()
    title, title_zh = _split_title(found.group(2))
    nxt = reader.peek()
    if (
        title_zh is None and nxt is not None and _is_chinese(nxt.text)
        and not _AFFILIATIONS.match(nxt.text) and not _is_header(nxt.text)
    ):
        title_zh = reader.take().text
    authors, truncated, affiliations = _people(reader, f"the title on line {header.number}")
    paper = _paper(code, title, title_zh, authors, truncated, affiliations)
    paper["url"] = _link(reader, f"the paper on line {header.number}")
    _check_code(reader, header, code, legend)
    return paper


def _check_code(reader: _Reader, header: _Line, code: str, legend: dict[str, Any]) -> None:
    if code not in legend:
        raise DigestFormatError(
            reader.path, header.number,
            f"category [{code}] is not in the legend on line {reader.lines[0].number} "
            f"({', '.join(legend)}); fix the code or add it to the legend",
        )


def _footer(reader: _Reader, expected: str) -> str | None:
    """The notice after the last paper; chrome after it is dropped.

    A line that is not an entry is the footer only when no entry follows it: otherwise
    it is a block that could not be read, and is reported as one.
    """
    rest = reader.lines[reader.at:]
    for line in rest:
        if _is_header(line.text) or _NOTABLE.match(line.text):
            raise reader.fail(rest[0], expected)
    kept = []
    for line in rest:
        if _CHROME.match(line.text):
            break
        kept.append(line.text)
    reader.at = len(reader.lines)
    return "\n".join(kept) or None


def parse_digest(text: str, path: str = "<digest>") -> ParsedDigest:
    """Read the digest layout; raise :class:`DigestFormatError` at the first unreadable block.

    The result has every field the text carries; ``date`` and ``title`` are not among
    them (see :func:`import_digest`).
    """
    reader = _Reader(text, path)
    legend = _legend(reader)
    data: dict[str, Any] = {}
    lines: dict[tuple[str, int], int] = {}
    line = reader.peek()
    if line is not None and not _SUMMARY.match(line.text) and not _is_header(line.text):
        data["attribution"] = reader.take().text
    data["categories"] = legend
    line = reader.peek()
    if line is not None and (found := _SUMMARY.match(line.text)):
        reader.take()
        data["summary"] = found.group(1).strip()
    featured: list[dict[str, Any]] = []
    while (line := reader.peek()) is not None and _FEATURED.match(line.text):
        lines[("featured", len(featured))] = line.number
        featured.append(_featured(reader, reader.take(), legend))
    if not featured:
        raise reader.fail(reader.peek(), "the first numbered paper, e.g. '1、[LG] Title'")
    data["featured"] = featured
    notable: list[dict[str, Any]] = []
    expected = "a numbered paper ('N、[CAT] Title') or '另外几篇值得关注的论文:'"
    if (line := reader.peek()) is not None and _NOTABLE_HEADING.match(line.text):
        reader.take()
        expected = "a paper ('[CAT] Title')"
        while (line := reader.peek()) is not None and _NOTABLE.match(line.text):
            lines[("notable", len(notable))] = line.number
            notable.append(_notable(reader, reader.take(), legend))
        if notable:
            data["notable"] = notable
    footer = _footer(reader, expected)
    if footer:
        data["footer"] = footer
    return ParsedDigest(data, lines, _newest_month([*featured, *notable]))


def _paper(
    code: str, title: str, title_zh: str | None, authors: list[str], truncated: bool,
    affiliations: list[str],
) -> dict[str, Any]:
    """The fields every paper has, in the order of the hand-written issue files."""
    paper: dict[str, Any] = {"category": code, "title": title}
    if title_zh:
        paper["title_zh"] = title_zh
    paper["authors"] = authors
    if truncated:
        paper["authors_truncated"] = True
    if affiliations:
        paper["affiliations"] = affiliations
    return paper


def _newest_month(papers: list[dict[str, Any]]) -> tuple[int, int, str] | None:
    """The year and month of the newest new-style arXiv ID, and that ID."""
    newest: tuple[int, int, int, str] | None = None
    for paper in papers:
        found = _ARXIV_NEW_ID.search(paper["url"])
        if found is None:
            continue
        year, month, number = 2000 + int(found.group(1)), int(found.group(2)), int(found.group(3))
        key = (year, month, number, paper["url"].rsplit("/", 1)[-1])
        if 1 <= month <= 12 and (newest is None or key[:3] > newest[:3]):
            newest = key
    return (newest[0], newest[1], newest[3]) if newest else None
