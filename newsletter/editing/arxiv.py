"""Draft issues from arXiv: the export API client, its Atom feed, and the draft itself.

The client asks for every ID in one request (``id_list``), and never sends two requests
less than :data:`REQUEST_SPACING` seconds apart, as arXiv's API terms ask. Parsing is pure
(bytes in, :class:`ArxivPaper` out); the one network call is :meth:`ArxivClient.fetch`.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
import time
import urllib.parse
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from newsletter.editing.arxiv_http import http_get
from newsletter.editing.yaml_writer import (
    default_title,
    default_title_en,
    issue_yaml,
    write_new_file,
)
from newsletter.errors import ArxivError
from newsletter.issues.categories import DEFAULT_CATEGORIES, available_categories
from newsletter.issues.loader import parse_issue
from newsletter.issues.model import CategoryName, Issue

REQUEST_SPACING = 3.0
MAX_IDS_PER_REQUEST = 100
MAX_AUTHORS = 8
TODO = "TODO:"
TODO_TITLE_ZH = f"{TODO} 中文标题 (Chinese title)"
TODO_SUMMARY_ZH = f"{TODO} 中文摘要 (Chinese summary)"
# arXiv's primary categories and the digest's codes for them.
CATEGORY_OF = {
    "cs.LG": "LG", "stat.ML": "LG", "cs.CV": "CV", "cs.CL": "CL",
    "eess.AS": "AS", "cs.SD": "AS", "cs.RO": "RO",
}
_ATOM = "{http://www.w3.org/2005/Atom}"
_ARXIV = "{http://arxiv.org/schemas/atom}"
_ID = re.compile(r"^(?:\d{4}\.\d{4,5}|[a-z][a-z\-]*(?:\.[A-Z]{2})?/\d{7})(?:v\d+)?$")
_ABS = re.compile(r"/abs/(.+?)$")
_VERSION = re.compile(r"v\d+$")
_WITHDRAWN = re.compile(r"\bwithdrawn\b", re.IGNORECASE)


@dataclass(frozen=True)
class ArxivPaper:
    """One paper as the export API describes it."""

    arxiv_id: str  # without its version
    title: str
    authors: tuple[str, ...]
    affiliations: tuple[str, ...]
    abstract: str
    primary_category: str
    comment: str | None = None

    @property
    def url(self) -> str:
        return f"https://arxiv.org/abs/{self.arxiv_id}"

    @property
    def withdrawn(self) -> bool:
        return bool(self.comment and _WITHDRAWN.search(self.comment))


def versionless(arxiv_id: str) -> str:
    return _VERSION.sub("", arxiv_id.strip())


def _one_line(text: str | None) -> str:
    return " ".join((text or "").split())


def digest_author(name: str) -> str:
    """``Sasha Salter`` -> ``S Salter``; ``Ricky T. Q. Chen`` -> ``R T. Q. Chen``.

    Given names become initials (one already written as an initial is kept as written),
    the surname stays whole.
    """
    parts = name.split()
    if len(parts) < 2:
        return name.strip()
    given = [p if re.fullmatch(r"\w\.", p) else p[0] for p in parts[:-1]]
    return " ".join([*given, parts[-1]])


def _parse_xml(body: bytes) -> ET.Element:
    # The feed comes from a configured server. Python's expat (2.4.1 and later) refuses
    # entity-expansion attacks by itself, and ElementTree never fetches external entities.
    try:
        return ET.fromstring(body)  # noqa: S314
    except ET.ParseError as err:
        raise ArxivError(
            f"the arXiv API answered something that is not an Atom feed: {err}"
        ) from err


def parse_feed(body: bytes) -> tuple[list[ArxivPaper], list[str]]:
    """An export-API Atom feed -> (papers, error messages arXiv put in the feed).

    arXiv answers an ID it cannot use with an entry titled "Error" whose summary says
    why ("incorrect id format for 1234.5678"); those come back as messages.
    """
    root = _parse_xml(body)
    papers: list[ArxivPaper] = []
    errors: list[str] = []
    for entry in root.iter(f"{_ATOM}entry"):
        title = _one_line(entry.findtext(f"{_ATOM}title"))
        entry_id = _one_line(entry.findtext(f"{_ATOM}id"))
        summary = _one_line(entry.findtext(f"{_ATOM}summary"))
        if title == "Error" or "/api/errors" in entry_id:
            errors.append(summary or entry_id)
            continue
        found = _ABS.search(entry_id)
        if found is None:
            errors.append(f"an entry with an unexpected id {entry_id!r}")
            continue
        authors, affiliations = [], []
        for author in entry.findall(f"{_ATOM}author"):
            authors.append(_one_line(author.findtext(f"{_ATOM}name")))
            for affiliation in author.findall(f"{_ARXIV}affiliation"):
                name = _one_line(affiliation.text)
                if name and name not in affiliations:
                    affiliations.append(name)
        primary = entry.find(f"{_ARXIV}primary_category")
        papers.append(ArxivPaper(
            arxiv_id=versionless(found.group(1)),
            title=title,
            authors=tuple(a for a in authors if a),
            affiliations=tuple(affiliations),
            abstract=summary,
            primary_category=primary.get("term", "") if primary is not None else "",
            comment=_one_line(entry.findtext(f"{_ARXIV}comment")) or None,
        ))
    return papers, errors


Fetch = Callable[[str], bytes]


class ArxivClient:
    """The export API at ``api_url``, at most one request per ``spacing`` seconds.

    ``clock`` and ``sleep`` are injectable so the spacing can be tested without waiting.
    """

    def __init__(
        self,
        api_url: str,
        *,
        fetch: Fetch = http_get,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        spacing: float = REQUEST_SPACING,
    ) -> None:
        self.api_url = api_url
        self._fetch = fetch
        self._clock = clock
        self._sleep = sleep
        self._spacing = spacing
        self._last: float | None = None
        self._lock = threading.Lock()

    def _request(self, ids: Sequence[str]) -> bytes:
        with self._lock:
            if self._last is not None:
                wait = self._last + self._spacing - self._clock()
                if wait > 0:
                    self._sleep(wait)
            query = urllib.parse.urlencode(
                {"id_list": ",".join(ids), "max_results": str(len(ids))}
            )
            try:
                return self._fetch(f"{self.api_url}?{query}")
            finally:
                self._last = self._clock()

    def fetch(self, ids: Sequence[str]) -> dict[str, ArxivPaper]:
        """The papers for ``ids`` (versionless keys), in one request per 100 IDs.

        Raises :class:`ArxivError` for a malformed ID (before any request), for an ID
        arXiv does not know, and when the API cannot be reached.
        """
        wanted = [versionless(i) for i in ids]
        bad = [i for i in wanted if not _ID.match(i)]
        if bad:
            raise ArxivError(
                f"not an arXiv ID: {', '.join(bad)}; write it as 2209.01947 (or cs/0112017)"
            )
        found: dict[str, ArxivPaper] = {}
        errors: list[str] = []
        unique = list(dict.fromkeys(wanted))
        for start in range(0, len(unique), MAX_IDS_PER_REQUEST):
            papers, problems = parse_feed(self._request(unique[start:start + MAX_IDS_PER_REQUEST]))
            found.update((p.arxiv_id, p) for p in papers)
            errors += problems
        missing = [i for i in unique if i not in found]
        if errors or missing:
            parts = [f"arXiv has no paper {', '.join(missing)}"] if missing else []
            parts += [f"arXiv says: {'; '.join(errors)}"] if errors else []
            raise ArxivError(f"{'; '.join(parts)}; check the IDs")
        return found


# -- drafts -----------------------------------------------------------------------------

AskCategory = Callable[[ArxivPaper, Sequence[str]], str]


def _category(
    paper: ArxivPaper, overrides: Mapping[str, str], legend: Mapping[str, CategoryName],
    ask: AskCategory | None,
) -> str | None:
    if paper.arxiv_id in overrides:
        return overrides[paper.arxiv_id]
    guessed = CATEGORY_OF.get(paper.primary_category)
    if guessed in legend:
        return guessed
    return ask(paper, sorted(legend)) if ask is not None else None


def _authors(paper: ArxivPaper) -> tuple[list[str], bool]:
    names = [digest_author(name) for name in paper.authors] or ["TODO: authors"]
    return names[:MAX_AUTHORS], len(names) > MAX_AUTHORS


def _entry(paper: ArxivPaper, category: str, featured: bool) -> dict[str, Any]:
    authors, truncated = _authors(paper)
    entry: dict[str, Any] = {
        "category": category, "title": paper.title, "title_zh": TODO_TITLE_ZH,
        "authors": authors,
    }
    if truncated:
        entry["authors_truncated"] = True
    if paper.affiliations:
        entry["affiliations"] = list(paper.affiliations)
    if featured:
        entry["summary_zh"] = TODO_SUMMARY_ZH
        entry["abstract"] = paper.abstract
    entry["url"] = paper.url
    return entry


@dataclass
class Draft:
    """A draft issue written from arXiv, and what the editor still has to do."""

    issue: Issue
    path: Path
    todos: int


def draft_issue(
    date: dt.date,
    featured: Sequence[str],
    notable: Sequence[str],
    client: ArxivClient,
    *,
    out: Path,
    legend: Mapping[str, CategoryName] | None = None,
    overrides: Mapping[str, str] | None = None,
    ask: AskCategory | None = None,
    overwrite: bool = False,
) -> Draft:
    """Fetch the papers and write a draft issue to ``out``, Chinese fields marked TODO.

    Categories come from ``overrides`` (versionless ID -> code), else from the paper's
    primary category (:data:`CATEGORY_OF`) when ``legend`` has that code, else from
    ``ask``; without ``ask`` such papers raise :class:`ArxivError` naming them and the
    ``--category ID=CODE`` fix. Withdrawn papers raise :class:`ArxivError` too. Nothing is
    written unless every paper is in order.
    """
    legend = dict(legend or DEFAULT_CATEGORIES)
    overrides = {versionless(k): v for k, v in (overrides or {}).items()}
    unknown = sorted({code for code in overrides.values() if code not in legend})
    if unknown:
        raise ArxivError(
            f"--category {', '.join(unknown)} is not in the legend ({', '.join(legend)})"
        )
    if not featured:
        raise ArxivError("give at least one featured paper: --arxiv ID")
    given = [versionless(i) for i in [*featured, *notable]]
    twice = sorted({i for i in given if given.count(i) > 1})
    if twice:
        raise ArxivError(f"given more than once: {', '.join(twice)}; a paper appears once")
    papers = client.fetch([*featured, *notable])
    withdrawn = [p for p in papers.values() if p.withdrawn]
    if withdrawn:
        said = "; ".join(f"{p.arxiv_id}: {p.comment}" for p in withdrawn)
        raise ArxivError(f"withdrawn on arXiv, leave it out: {said}")
    chosen: dict[str, str] = {}
    undecided: list[ArxivPaper] = []
    for paper in papers.values():
        code = _category(paper, overrides, legend, ask)
        if code is None:
            undecided.append(paper)
        elif code not in legend:
            raise ArxivError(f"{paper.arxiv_id}: {code} is not in the legend ({', '.join(legend)})")
        else:
            chosen[paper.arxiv_id] = code
    if undecided:
        raise ArxivError(
            "no category for "
            + ", ".join(f"{p.arxiv_id} ({p.primary_category or 'no primary category'})"
                        for p in undecided)
            + f"; pass --category ID=CODE with one of {', '.join(legend)}"
        )
    data: dict[str, Any] = {
        "date": date,
        "title": default_title(date),
        "title_en": default_title_en(date),
        "categories": {code: name.model_dump(exclude_none=True) for code, name in legend.items()},
        "featured": [
            _entry(papers[versionless(i)], chosen[versionless(i)], True) for i in featured
        ],
    }
    if notable:
        data["notable"] = [
            _entry(papers[versionless(i)], chosen[versionless(i)], False) for i in notable
        ]
    header = (
        f"Draft for {date.isoformat()} from arXiv by `newsletter new`: replace every "
        f"'{TODO}' (`newsletter validate` lists them),\nadd affiliations, and check the "
        "categories. Schema: see README.md, \"Issue files\"."
    )
    text = issue_yaml(data, header)
    issue = parse_issue(text, str(out))
    write_new_file(out, text, overwrite=overwrite)
    todos = sum(
        1 for paper in issue.papers for value in paper.model_dump().values()
        if isinstance(value, str) and value.startswith(TODO)
    )
    return Draft(issue, out, todos)


def new_draft(
    client: ArxivClient,
    issues_dir: Path,
    date: dt.date,
    featured: Sequence[str],
    notable: Sequence[str],
    *,
    out: Path | None = None,
    overrides: Mapping[str, str] | None = None,
    ask: AskCategory | None = None,
    overwrite: bool = False,
) -> Draft:
    """:func:`draft_issue` into ``issues_dir``: the legend of its issue files, and
    ``issues_dir/DATE.yaml`` unless ``out`` is given."""
    return draft_issue(
        date, featured, notable, client,
        out=out or issues_dir / f"{date.isoformat()}.yaml",
        legend=available_categories(issues_dir), overrides=overrides, ask=ask,
        overwrite=overwrite,
    )
