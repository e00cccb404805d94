"""The rows of the paper index, made from each paper's JSON: pure work, no database.

Cutting a paper's search terms and writing its vectors is Python's work, about 0.1 ms a
paper, and a build of 100,000 papers did it in the one thread that also fed the
database. :func:`prepare_all` spreads a large change over worker processes (one per
core, :func:`row_workers`), which hand back each batch ready to write: on PostgreSQL the
text of its COPY, on SQLite its rows and FTS5 texts. This module imports nothing of the
database, so that a worker starts quickly.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import chain
from typing import Any

import orjson

from newsletter.model.papers import Appearance, PaperRecord, terms

log = logging.getLogger(__name__)

MAX_POSITION = 16383  # PostgreSQL's largest position in a tsvector
PARALLEL_FROM = 10_000  # papers in a change from which worker processes prepare them


def to_json(record: PaperRecord) -> str:
    data: dict[str, Any] = {
        "arxiv_id": record.arxiv_id, "category": record.category, "title": record.title,
        "title_zh": record.title_zh, "authors": list(record.authors),
        "authors_truncated": record.authors_truncated,
        "affiliations": list(record.affiliations), "abstract": record.abstract,
        "summary_zh": record.summary_zh,
        "appearances": [[a.date.isoformat(), a.section, a.position, a.anchor]
                        for a in record.appearances],
    }
    # orjson: the same compact JSON (characters as UTF-8, not escaped) several times
    # faster than the standard library's encoder, which cost a tenth of a build.
    return orjson.dumps(data).decode("utf-8")


def from_json(text_: str) -> PaperRecord:
    data = orjson.loads(text_)
    return PaperRecord(
        arxiv_id=data["arxiv_id"], category=data["category"], title=data["title"],
        title_zh=data["title_zh"], authors=tuple(data["authors"]),
        authors_truncated=data["authors_truncated"],
        affiliations=tuple(data["affiliations"]), abstract=data["abstract"],
        summary_zh=data["summary_zh"],
        appearances=tuple(Appearance(dt.date.fromisoformat(d), s, p, a)
                          for d, s, p, a in data["appearances"]),
    )


@functools.cache
def _positions(weight: str) -> list[str]:
    """What follows each term in a ``tsvector`` literal, by position: ``"':7A '"`` (the
    term's closing quote, its position and weight, the next term's opening quote)."""
    return [f"':{n}{weight} '" for n in range(MAX_POSITION + 1)]


def tsvector_text(fields: Sequence[list[str]]) -> str:
    """The PostgreSQL ``tsvector`` literal of the terms of a record's search fields,
    weighted A (titles), B (authors, affiliations), C (the rest). Written as a literal
    rather than parsed by a text search configuration, so Chinese bigrams are kept whatever
    the server's locale; PostgreSQL merges the repeated lexemes. Terms are letters and
    digits only (no quote). Joined in C from the terms and ready-made position strings:
    a formatted string per term cost more than the rest of a paper's row."""
    pieces: list[Iterable[str]] = []
    position = 0
    for weight, found in zip("ABC", fields, strict=False):
        found = found[: max(0, MAX_POSITION - position)]
        pieces.append(chain.from_iterable(zip(
            found, _positions(weight)[position + 1 : position + 1 + len(found)], strict=True)))
        position += len(found)
    body = "".join(chain.from_iterable(pieces))
    return "'" + body[:-2] if body else ""


def copy_field(value: str) -> str:
    """``value`` as a field of COPY's text format: backslash, tab, newline and carriage
    return escaped (each ``replace`` a scan in C, done only when the character is there)."""
    for plain, escaped in (("\\", "\\\\"), ("\t", "\\t"), ("\n", "\\n"), ("\r", "\\r")):
        if plain in value:
            value = value.replace(plain, escaped)
    return value


def appearances_copy(rows: Iterable[Mapping[str, str]]) -> bytes:
    """The ``paper_appearances`` rows (``arxiv_id``, ``issue_date``, ``data``) in COPY's
    text format: one join per row, instead of the driver's Python work per value."""
    return "".join(
        f"{copy_field(row['arxiv_id'])}\t{copy_field(row['issue_date'])}\t"
        f"{copy_field(row['data'])}\n" for row in rows).encode("utf-8")


@dataclass
class Prepared:
    """One batch ready to write: on PostgreSQL ``copy``, the COPY text of its ``papers``
    rows; on SQLite its ``rows`` and, by arXiv ID, its FTS5 ``search`` texts by field."""

    copy: bytes = b""
    rows: list[tuple[object, ...]] = field(default_factory=list)
    search: dict[str, tuple[str, str, str]] = field(default_factory=dict)


def prepare(datas: Sequence[str], postgresql: bool) -> Prepared:
    """The batch of the papers whose JSON is ``datas``."""
    prepared = Prepared()
    lines = []
    for data in datas:
        record = from_json(data)
        found = [terms(f) for f in record.search_fields()]
        row = (record.arxiv_id, record.category, record.first_date.isoformat(),
               record.last_date.isoformat(), record.first_date.year, data)
        if postgresql:
            lines.append("\t".join((
                copy_field(record.arxiv_id), copy_field(record.category), row[2], row[3],
                str(row[4]), copy_field(data), tsvector_text(found),
                tsvector_text(found[:1]))))
        else:
            prepared.rows.append(row)
            prepared.search[record.arxiv_id] = (" ".join(found[0]), " ".join(found[1]),
                                                " ".join(found[2]))
    if lines:
        prepared.copy = ("\n".join(lines) + "\n").encode("utf-8")
    return prepared


def _ready() -> None:
    """Nothing: a task that has a worker started, and this module imported in it."""


@dataclass(frozen=True)
class Workers:
    """Worker processes that make rows: the pool and how many processes it has."""

    pool: ProcessPoolExecutor
    count: int


@contextmanager
def row_workers(papers: int) -> Iterator[Workers | None]:
    """Worker processes (one per core) for a change of ``papers`` papers, started at once
    so that they are ready by the time the change has its rows to make (a worker takes
    about half a second to start); ended when left. None for fewer than
    :data:`PARALLEL_FROM` papers, on one core, or when no worker process can start."""
    from newsletter.issues.many import usable_cores, worker_pool  # only a large change

    workers = usable_cores()
    if workers < 2 or papers < PARALLEL_FROM:
        yield None
        return
    try:
        pool = worker_pool(workers)
        for _ in range(workers):
            pool.submit(_ready)
    except OSError as err:
        log.warning("paper rows prepared in one process: no worker processes (%s)", err)
        yield None
        return
    with pool:
        yield Workers(pool, workers)


def prepare_all(batches: Sequence[Sequence[str]], postgresql: bool,
                workers: Workers | None = None) -> Iterator[Prepared]:
    """:func:`prepare` of each of ``batches``, in order: in the processes of ``workers``
    (:func:`row_workers`), or here without them."""
    if workers is None:
        yield from (prepare(batch, postgresql) for batch in batches)
        return
    # A worker that dies fails the change, rolled back whole (the next sync tries again).
    # A few batches ahead of the writer, not all: ready batches wait in memory.
    ahead: deque[Future[Prepared]] = deque()
    try:
        for batch in batches:
            ahead.append(workers.pool.submit(prepare, batch, postgresql))
            if len(ahead) > 2 * workers.count:
                yield ahead.popleft().result()
        while ahead:
            yield ahead.popleft().result()
    finally:
        for future in ahead:
            future.cancel()
