"""The issue editor's form: an issue file as form fields, and the fields written back into
the file with its comments, key order and quoting kept (ruamel.yaml's round trip)."""

from __future__ import annotations

import dataclasses
import hashlib
import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import CommentMark
from ruamel.yaml.scalarstring import FoldedScalarString, LiteralScalarString
from ruamel.yaml.tokens import CommentToken

from newsletter.cjk import CJK_TEXT_RE

ISSUE_KEYS = ("date", "title", "title_en", "attribution", "categories", "summary",
              "summary_en", "featured", "notable", "footer", "footer_en")
PAPER_KEYS = ("category", "title", "title_zh", "authors", "authors_truncated",
              "affiliations", "summary_zh", "abstract", "url")
SECTIONS = ("featured", "notable")
TEXTS = ("title", "title_en", "attribution", "summary", "summary_en", "footer", "footer_en")
_REQUIRED = frozenset({"title", "category", "url", "abstract"})  # written even when empty
_PROSE = frozenset({"summary", "summary_en", "summary_zh", "abstract"})
WIDTH = 100  # new folded text is wrapped to this many columns
_LONGEST_PLAIN = 75
_NEW: Any = object()  # an entry that was not in the file


def version_of(data: bytes) -> str:
    """The version a page carries: the sha256 of the file's bytes as loaded."""
    return hashlib.sha256(data).hexdigest()


def text_of(value: Any) -> str:
    """A value from the file as the form shows it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).replace("\r\n", "\n").replace("\r", "\n").strip()


def _names(value: Any) -> tuple[str, str]:
    """A legend entry's (Chinese, English) names; a bare string is Chinese when it has CJK."""
    if isinstance(value, Mapping):
        return text_of(value.get("zh")), text_of(value.get("en"))
    text = text_of(value)
    return (text, "") if CJK_TEXT_RE.search(text) else ("", text)


@dataclass
class PaperForm:
    origin: int | None = None  # its index in the file as loaded; None when added here
    category: str = ""
    title: str = ""
    title_zh: str = ""
    authors: list[str] = field(default_factory=list)
    authors_truncated: bool = False
    affiliations: list[str] = field(default_factory=list)
    summary_zh: str = ""
    abstract: str = ""
    url: str = ""


@dataclass
class LegendRow:
    origin: str | None = None  # its code in the file as loaded; None when added here
    code: str = ""
    zh: str = ""
    en: str = ""


@dataclass
class IssueForm:
    texts: dict[str, str]
    categories: list[LegendRow]
    featured: list[PaperForm]
    notable: list[PaperForm]

    def rows(self, section: str) -> list[Any]:
        """The legend's rows (``category``), or the ``featured`` or ``notable`` papers."""
        rows: dict[str, list[Any]] = {"category": self.categories, "featured": self.featured,
                                      "notable": self.notable}
        return rows[section]

    def content(self) -> Any:
        """Everything but where the rows came from (what a save must write)."""
        def bare(row: Any) -> Any:
            return dataclasses.astuple(dataclasses.replace(row, origin=None))
        return (self.texts, [bare(r) for r in self.categories],
                [bare(p) for p in self.featured], [bare(p) for p in self.notable])


def _lines(value: Any) -> list[str]:
    items = value if isinstance(value, list) else [value]
    return [text for text in (text_of(item) for item in items) if text]


def _paper(item: Any, origin: int | None, featured: bool) -> PaperForm:
    data = item if isinstance(item, Mapping) else {}
    paper = PaperForm(origin, authors=_lines(data.get("authors")),
                      authors_truncated=data.get("authors_truncated") is True,
                      affiliations=_lines(data.get("affiliations")))
    for key in ("category", "title", "title_zh", "url", *(("summary_zh", "abstract")
                                                          if featured else ())):
        setattr(paper, key, text_of(data.get(key)))
    return paper


def form_from_data(data: Any) -> IssueForm:
    """The form of an issue's data (as loaded, valid or not)."""
    data = data if isinstance(data, Mapping) else {}
    legend = data.get("categories")
    rows = [LegendRow(str(code), text_of(code), *_names(name))
            for code, name in (legend.items() if isinstance(legend, Mapping) else ())]
    papers = {section: [_paper(item, i, section == "featured") for i, item in enumerate(
        data.get(section) if isinstance(data.get(section), list) else ())]
        for section in SECTIONS}
    return IssueForm({key: text_of(data.get(key)) for key in TEXTS}, rows,
                     papers["featured"], papers["notable"])


# -- writing the form into the file ---------------------------------------------------------

def _yaml() -> YAML:
    yaml = YAML()  # round trip: comments, key order, quotes and block styles kept
    yaml.preserve_quotes = True
    yaml.width = 4096  # never re-wrap a line already in the file
    return yaml


def load_yaml(text: str) -> Any:
    return _yaml().load(text)


def dump_yaml(doc: Any) -> str:
    out = io.StringIO()
    _yaml().dump(doc, out)
    return out.getvalue()


def _folds(text: str, width: int) -> list[int]:
    """Where to fold ``text`` (at single spaces) so no line is longer than ``width``."""
    spaces = [i for i in range(1, len(text) - 1)
              if text[i] == " " and text[i - 1] != " " and text[i + 1] != " "]
    folds: list[int] = []
    start, last = 0, -1
    for i in [*spaces, len(text)]:
        if i - start > width and last > start:
            folds.append(last)
            start = last + 1
        last = i
    return folds


def _styled(key: str, value: str, old: Any, indent: int) -> Any:
    """A new value in the style of the issue files: prose folded at WIDTH columns, several
    lines as a literal block, short text plain (quoted by the dumper when YAML needs it)."""
    if "\n" in value:
        return LiteralScalarString(value)
    if key in _PROSE or isinstance(old, FoldedScalarString) or len(value) > _LONGEST_PLAIN:
        folded = FoldedScalarString(value)
        folded.fold_pos = _folds(value, WIDTH - indent)
        return folded
    return value


def _holder(node: Any, key: Any) -> tuple[Any, Any]:
    """The collection and key whose comment slot holds the comment lines after ``key``'s
    entry: the last entry of its value when that is a block collection."""
    value = node[key]
    if isinstance(value, CommentedMap | CommentedSeq) and len(value) \
            and not value.fa.flow_style():
        return _holder(value, next(reversed(value)) if isinstance(value, CommentedMap)
                       else len(value) - 1)
    return node, key


def _take_lines(node: Any, key: Any) -> str:
    """Remove and return the whole comment lines after ``key``'s entry (a comment on the
    entry's own last line stays)."""
    where, at = _holder(node, key)
    slot = where.ca.items.get(at)
    pos = 2 if isinstance(where, CommentedMap) else 0
    token = slot[pos] if slot else None
    if token is None:
        return ""
    first, _, rest = str(token.value).partition("\n")
    if first:
        token.value = first + "\n"
    else:
        slot[pos] = None
    return rest


def _put_lines(node: Any, key: Any, lines: str) -> None:
    """Put whole comment lines after ``key``'s entry."""
    if not lines:
        return
    where, at = _holder(node, key)
    slot = where.ca.items.setdefault(at, [None, None, None, None])
    pos = 2 if isinstance(where, CommentedMap) else 0
    if slot[pos] is None:
        slot[pos] = CommentToken("\n" + lines, CommentMark(0), None)
    else:
        slot[pos].value += lines


def _put(node: CommentedMap, key: str, value: Any, order: tuple[str, ...]) -> None:
    """Set ``key``, in its place when it is new: after the keys that come before it."""
    if key in node:
        node[key] = value
        return
    before = [k for k in order[: order.index(key)] if k in node]
    node.insert(list(node).index(before[-1]) + 1 if before else 0, key, value)


def _drop(node: CommentedMap, key: str) -> None:
    """Remove ``key``; the comment lines after it stay where they were."""
    if key not in node:
        return
    keys = list(node)
    lines = _take_lines(node, key)
    del node[key]
    node.ca.items.pop(key, None)
    at = keys.index(key)
    if at:
        _put_lines(node, keys[at - 1], lines)


def _set_text(node: CommentedMap, key: str, value: str, order: tuple[str, ...],
              indent: int) -> None:
    old = node.get(key)
    if key in node and not isinstance(old, Mapping | list) and text_of(old) == value:
        return  # unchanged: kept exactly as written
    if not value and key not in _REQUIRED:
        _drop(node, key)
    else:
        _put(node, key, _styled(key, value, old, indent), order)


def _set_list(node: CommentedMap, key: str, values: list[str], required: bool) -> None:
    old = node.get(key)
    if isinstance(old, list) and [text_of(v) for v in old] == values:
        return
    if not values and not required:
        _drop(node, key)
    elif isinstance(old, CommentedSeq) and len(old):  # edited in place: its comments stay
        lines = _take_lines(node, key)
        for i, value in enumerate(values):
            if i >= len(old):
                old.append(value)
            elif text_of(old[i]) != value:
                old[i] = value
        del old[len(values):]
        for stale in [i for i in old.ca.items if i >= len(values)]:
            del old.ca.items[stale]
        _put_lines(node, key, lines)
    else:
        _put(node, key, CommentedSeq(values), PAPER_KEYS)


def _apply_paper(node: CommentedMap, paper: PaperForm, featured: bool) -> None:
    for key in ("category", "title", "title_zh"):
        _set_text(node, key, getattr(paper, key), PAPER_KEYS, 4)
    _set_list(node, "authors", paper.authors, required=True)
    if paper.authors_truncated and node.get("authors_truncated") is not True:
        _put(node, "authors_truncated", True, PAPER_KEYS)
    elif not paper.authors_truncated and node.get("authors_truncated", False) is not False:
        _drop(node, "authors_truncated")
    _set_list(node, "affiliations", paper.affiliations, required=False)
    for key in ("summary_zh", "abstract", "url") if featured else ("url",):
        _set_text(node, key, getattr(paper, key), PAPER_KEYS, 4)


def _legend_value(old: Any, row: LegendRow) -> Any:
    if isinstance(old, CommentedMap):
        for key in ("zh", "en"):
            _set_text(old, key, getattr(row, key), ("zh", "en"), 4)
        return old
    if old is not None and bool(row.zh) != bool(row.en) and _names(row.zh or row.en) == (
            row.zh, row.en):
        return old if _names(old) == (row.zh, row.en) else row.zh or row.en
    names = CommentedMap()
    for key in ("zh", "en"):
        if getattr(row, key):
            names[key] = getattr(row, key)
    return names


def _restructure(parent: CommentedMap, name: str, node: Any,
                 entries: list[tuple[Any, Any, Any]]) -> None:
    """Give ``node`` (a map or a sequence) the entries ``(old key or _NEW, key, value)`` in
    that order. Whole comment lines between entries go with the entry after them (those
    of a removed entry with the next one kept); those after the last entry stay last."""
    is_map = isinstance(node, CommentedMap)
    old = list(node) if is_map else list(range(len(node)))
    if [e[0] for e in entries] == old and all(not is_map or str(e[0]) == e[1]
                                              for e in entries):
        for ref, _, value in entries:
            if node[ref] is not value:
                node[ref] = value
        return
    after = {ref: _take_lines(node, ref) for ref in old}
    kept = {e[0] for e in entries}
    heads, carry = {}, ""
    for i, ref in enumerate(old[1:], 1):
        heads[ref], carry = carry + after[old[i - 1]], ""
        if ref not in kept:
            carry, heads[ref] = heads[ref], ""
    tail = carry + after[old[-1]] if old else ""
    comments = {(key if is_map else j): node.ca.items[ref]
                for j, (ref, key, _) in enumerate(entries) if ref in node.ca.items}
    if is_map:
        for ref in old:
            del node[ref]
    else:
        del node[:]
    node.ca.items.clear()
    node.ca.items.update(comments)
    for _, key, value in entries:
        if is_map:
            node[key] = value
        else:
            node.append(value)
    keys = list(node) if is_map else list(range(len(node)))
    for j, (ref, _, _) in enumerate(entries):
        head = heads.get(ref, "") if ref is not _NEW else ""
        if head and j:
            _put_lines(node, keys[j - 1], head)
        elif head:  # now first: above it, after the key that holds it
            slot = parent.ca.items.setdefault(name, [None, None, None, None])
            slot[3] = [*(slot[3] or []), CommentToken(head, CommentMark(0), None)]
    if keys:
        _put_lines(node, keys[-1], tail)


def apply_form(form: IssueForm, doc: CommentedMap, *, trust_origins: bool) -> None:
    """Write the form into ``doc`` (the file as loaded), changing only what differs.

    Rows keep their own part of the file (comments, quoting, keys the form does not show)
    through their origin; ``trust_origins`` False (the file changed since the form was
    loaded) matches legend rows by code and papers by link instead."""
    for key in TEXTS:
        _set_text(doc, key, form.texts[key], ISSUE_KEYS, 2)
    legend = doc.get("categories")
    if not isinstance(legend, CommentedMap):
        legend = CommentedMap()
        _put(doc, "categories", legend, ISSUE_KEYS)
    entries: list[tuple[Any, Any, Any]] = []
    used: set[Any] = set()
    for row in form.categories:
        want = row.origin if trust_origins else row.code
        ref = next((k for k in legend if str(k) == want and k not in used), _NEW)
        used.add(ref)
        entries.append((ref, row.code, _legend_value(legend.get(ref), row)))
    _restructure(doc, "categories", legend, entries)
    for section in SECTIONS:
        _apply_papers(doc, section, form.rows(section), trust_origins)


def _apply_papers(doc: CommentedMap, section: str, papers: list[PaperForm],
                  trust_origins: bool) -> None:
    seq = doc.get(section)
    old = list(seq) if isinstance(seq, CommentedSeq) else []
    entries: list[tuple[Any, Any, Any]] = []
    taken: set[int] = set()
    for paper in papers:
        ref = paper.origin if trust_origins else next(
            (i for i, item in enumerate(old) if isinstance(item, Mapping)
             and text_of(item.get("url")) == paper.url and i not in taken), None)
        if ref is None or not 0 <= ref < len(old) or ref in taken \
                or not isinstance(old[ref], CommentedMap):
            ref = _NEW
        else:
            taken.add(ref)
        node = CommentedMap() if ref is _NEW else old[ref]
        _apply_paper(node, paper, section == "featured")
        entries.append((ref, None, node))
    if not papers and section == "notable":
        _drop(doc, section)
    elif isinstance(seq, CommentedSeq):
        _restructure(doc, section, seq, entries)
    else:
        _put(doc, section, CommentedSeq([e[2] for e in entries]), ISSUE_KEYS)
