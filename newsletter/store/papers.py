"""The paper index: every paper of the published issues, one row each, and its search.

Filled issue by issue (:meth:`PaperStore.apply`): the papers an issue gave are kept per
issue (``paper_appearances``), and every paper they touch is merged again from all of its
appearances into ``papers`` and the search index, in one transaction. The rows are made
in :mod:`newsletter.store.paper_rows` (in worker processes, for a large change), the
PostgreSQL search indexes kept in :mod:`newsletter.store.paper_indexes`, and searching is
in :mod:`newsletter.store.paper_search`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    String,
    any_,
    bindparam,
    delete,
    insert,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY

from newsletter.model.papers import PaperRecord, SearchPage, merge
from newsletter.store import paper_indexes
from newsletter.store.base import Store
from newsletter.store.paper_rows import (
    Prepared,
    Workers,
    appearances_copy,
    from_json,
    prepare_all,
    row_workers,
    to_json,
)
from newsletter.store.paper_search import search_papers
from newsletter.store.tables_papers import paper_appearances, paper_issues, papers

_CHUNK = 500  # bound values per IN list
_BULK = 5000  # papers in one change from which PostgreSQL's search indexes are rebuilt
_PENDING = 3  # writes of a change queued at most


def _chunks(items: Sequence[str], whole: bool = False) -> Iterator[Sequence[str]]:
    """``items`` in lists of :data:`_CHUNK`, or (``whole``) in one."""
    size = max(len(items), 1) if whole else _CHUNK
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _among(column: ColumnElement[str], values: Sequence[str], postgresql: bool
           ) -> ColumnElement[bool]:
    """``column`` is one of ``values``: on PostgreSQL ``= ANY`` of one array parameter
    (a statement SQLAlchemy and the driver make once, whatever the number of values),
    on SQLite an IN list."""
    if postgresql:
        return column == any_(bindparam(None, list(values), type_=ARRAY(String)))
    return column.in_(values)


class _Writes:
    """Database writes of one change, run in order in a thread of their own while the
    caller prepares the next (cutting terms and making JSON is Python's work; the writing
    is mostly the database's, FTS5 cutting and indexing text or PostgreSQL parsing
    vectors, done without the GIL). The writes share the caller's connection and
    transaction: the caller does not use it until :meth:`wait` returned. At most
    :data:`_PENDING` writes wait their turn (each holds a batch in memory): a long write
    (all the appearances of a large change) does not hold the caller up. Not
    ``threaded``, each write runs at once, in the caller's thread (a small change)."""

    def __init__(self, threaded: bool) -> None:
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="paper-index") if threaded \
            else None
        self._pending: deque[Future[None]] = deque()
        self._failed = False

    def submit(self, write: Callable[..., object], *args: object) -> None:
        """Queue ``write(*args)`` after the writes before it (raising the error of one
        that failed)."""
        if self._pool is None:
            write(*args)
            return
        while len(self._pending) >= _PENDING:
            self._pending.popleft().result()
        self._pending.append(self._pool.submit(self._run, write, *args))

    def _run(self, write: Callable[..., object], *args: object) -> None:
        """``write(*args)`` unless a write before it failed (the change is lost anyway)."""
        if self._failed:
            return
        try:
            write(*args)
        except BaseException:
            self._failed = True
            raise

    def wait(self) -> None:
        """Wait for every write; raise the error of the first that failed."""
        while self._pending:
            self._pending.popleft().result()

    def __enter__(self) -> _Writes:
        return self

    def __exit__(self, *failed: object) -> None:
        if self._pool is not None:
            # Writes still queued or running end before the rollback.
            self._pool.shutdown(wait=True)


def _write(conn: Connection, ids: Sequence[str], batch: Prepared, sqlite: bool,
           empty: bool = False) -> None:
    """Drop the rows of ``ids`` and write the batch's (``empty``: the table had no row when
    the change began, so there is none to look for)."""
    # Only papers indexed before have rows to drop (none, when building anew).
    old = [] if empty else conn.execute(select(papers.c.id).where(
        _among(papers.c.arxiv_id, ids, not sqlite))).scalars().all()
    if old and sqlite:
        for fts in ("paper_fts", "paper_title_fts"):
            conn.execute(text(f"DELETE FROM {fts} WHERE rowid IN :ids").bindparams(  # noqa: S608
                bindparam("ids", expanding=True)), {"ids": list(old)})
    if old:
        conn.execute(delete(papers).where(papers.c.id.in_(old)))
    if not sqlite:
        if batch.copy:
            _copy_text(conn, "papers", _PAPER_COLUMNS, batch.copy)
        return
    if not batch.rows:
        return
    # Plain tuples to the driver, as for FTS5 below: SQLAlchemy's work per row, in this
    # thread, would hold the interpreter while the caller prepares the next batch.
    conn.exec_driver_sql(
        f"INSERT INTO papers ({', '.join(_SQLITE_PAPER_COLUMNS)}) "  # noqa: S608
        f"VALUES ({', '.join('?' * len(_SQLITE_PAPER_COLUMNS))})", batch.rows)
    ids_of = dict(conn.execute(select(papers.c.arxiv_id, papers.c.id).where(
        papers.c.arxiv_id.in_(list(batch.search)))).all())
    # Plain tuples to the driver: SQLAlchemy's work per row would cost more than FTS5's
    # own for these two statements.
    values = [(ids_of[key], *fields) for key, fields in batch.search.items()]
    conn.exec_driver_sql("INSERT INTO paper_fts(rowid, title, people, body) "
                         "VALUES (?, ?, ?, ?)", values)
    conn.exec_driver_sql("INSERT INTO paper_title_fts(rowid, title) VALUES (?, ?)",
                         [value[:2] for value in values])


def _driver(conn: Connection) -> Any:
    import psycopg  # here: a send on SQLite need not load the PostgreSQL driver (#23)

    driver = conn.connection.driver_connection
    assert isinstance(driver, psycopg.Connection)  # the PostgreSQL driver of make_engine
    return driver


def _copy_text(conn: Connection, table: str, columns: Sequence[str], payload: bytes) -> None:
    """Write ``payload`` (rows in COPY's text format, :func:`paper_rows.prepare`) into
    ``table``'s ``columns``, in the connection's transaction."""
    with _driver(conn).cursor() as cursor, cursor.copy(
            f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:  # fixed names
        copy.write(payload)


def _copy_appearances(conn: Connection, rows: Sequence[Mapping[str, str]]) -> None:
    """Write the ``paper_appearances`` rows with COPY (their text made in the writing
    thread, while the caller waits for the first batches of papers)."""
    _copy_text(conn, "paper_appearances", _APPEARANCE_COLUMNS, appearances_copy(rows))


# In the order of the COPY text of ``paper_rows.prepare``.
_PAPER_COLUMNS = ("arxiv_id", "category", "first_date", "last_date", "year", "data",
                  "search", "title_search")
_SQLITE_PAPER_COLUMNS = ("arxiv_id", "category", "first_date", "last_date", "year", "data")
_APPEARANCE_COLUMNS = ("arxiv_id", "issue_date", "data")  # as ``appearances_copy`` gives them


def _unlock(lead: Connection) -> None:
    """Let go of the session lock of :meth:`PaperStore.apply`; a connection that cannot
    is thrown away rather than returned to the pool still holding it."""
    try:
        lead.rollback()
        lead.execute(text("SELECT pg_advisory_unlock(hashtext('newsletter papers'))"))
        lead.commit()
    except Exception:
        lead.invalidate()
        raise


class PaperStore(Store):
    """The paper index in the database."""

    def versions(self) -> dict[str, str]:
        """Each indexed issue's date and the version of its file that was read."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(paper_issues.c.issue_date, paper_issues.c.version))
            return {str(date): str(version) for date, version in rows}

    def apply(self, changed: Mapping[str, tuple[str, Sequence[PaperRecord]]],
              removed: Iterable[str] = (), wait: bool = True) -> int | None:
        """Replace the papers of each issue in ``changed`` (date -> (version, the papers of
        that issue, one appearance each)) and drop the issues in ``removed``, in one
        transaction. Returns how many papers were merged again.

        On PostgreSQL a change of :data:`_BULK` papers or more drops the search indexes
        first and builds them again afterwards, all at once (``paper_indexes``);
        any change first builds the ones a dead process left missing. Changes take turns;
        without ``wait``, one that would wait for another does nothing and returns None."""
        dates = sorted({*changed, *removed})
        size = sum(len(found) for _, found in changed.values())
        if self.db.dialect != "postgresql":
            if not dates:
                return 0
            with row_workers(size) as workers, self.engine.begin() as conn:
                return self._change(conn, changed, dates, workers)
        with self.engine.connect() as lead:
            if wait:
                lead.execute(text(paper_indexes.LOCK.format(kind="")))
            got = wait or bool(lead.execute(text(paper_indexes.TRY_LOCK)).scalar_one())
            lead.commit()
            if not got:
                return None
            try:
                # Worker processes start now, to be ready when the rows can be made.
                with row_workers(size) as workers:
                    paper_indexes.repair(self.engine, lead)
                    if not dates:
                        return 0
                    if size < _BULK:
                        with lead.begin():
                            return self._change(lead, changed, dates, workers)
                    with lead.begin():
                        paper_indexes.drop(lead)
                    with lead.begin():
                        merged = self._change(lead, changed, dates, workers)
                paper_indexes.build(self.engine, paper_indexes.SEARCH_INDEXES)
                return merged
            finally:
                _unlock(lead)

    def _change(self, conn: Connection, changed: Mapping[str, tuple[str, Sequence[PaperRecord]]],
                dates: Sequence[str], workers: Workers | None) -> int:
        """:meth:`apply` in ``conn``'s transaction, its rows made by ``workers`` if any."""
        fresh: dict[str, list[PaperRecord]] = {}
        rows = []
        for date, (_, found) in changed.items():
            for paper in found:
                fresh.setdefault(paper.arxiv_id, []).append(paper)
                rows.append({"arxiv_id": paper.arxiv_id, "issue_date": date,
                             "data": to_json(paper)})
        with _Writes(len(fresh) > _CHUNK) as writes:
            touched = set(fresh)
            for chunk in _chunks(dates):
                touched.update(conn.execute(select(paper_appearances.c.arxiv_id).where(
                    paper_appearances.c.issue_date.in_(chunk))).scalars())
                conn.execute(delete(paper_appearances).where(
                    paper_appearances.c.issue_date.in_(chunk)))
                conn.execute(delete(paper_issues).where(paper_issues.c.issue_date.in_(chunk)))
            # What the other issues say about the touched papers, with this change's own
            # (nothing, when no other issue is indexed: a first build).
            ids = sorted(touched)
            postgresql = self.db.dialect == "postgresql"
            others = conn.execute(select(paper_appearances.c.arxiv_id).limit(1)).first()
            # A first build: no paper to look up before writing each batch. (Asked before
            # the first write: from then on the writing thread has the connection.)
            empty = conn.execute(select(papers.c.id).limit(1)).first() is None
            for chunk in _chunks(ids, whole=postgresql) if others is not None else ():
                for row in conn.execute(select(paper_appearances.c.data).where(
                        _among(paper_appearances.c.arxiv_id, chunk, postgresql))).scalars():
                    record = from_json(row)
                    fresh.setdefault(record.arxiv_id, []).append(record)
            if rows and self.db.dialect == "postgresql":
                writes.submit(_copy_appearances, conn, rows)
            elif rows:
                writes.submit(conn.execute, insert(paper_appearances), rows)
            if changed:
                writes.submit(conn.execute, insert(paper_issues), [
                    {"issue_date": date, "version": version}
                    for date, (version, _) in changed.items()])
            once = {row["arxiv_id"]: row["data"] for row in rows}
            chunks = list(_chunks(ids))
            # Each paper's JSON: as this change gave it, or merged from every appearance.
            datas = [[once[key] if len(fresh[key]) == 1 and key in once
                      else to_json(merge(fresh[key])) for key in chunk if key in fresh]
                     for chunk in chunks]
            sqlite = self.db.dialect == "sqlite"
            for chunk, batch in zip(chunks, prepare_all(datas, not sqlite, workers),
                                    strict=True):
                writes.submit(_write, conn, chunk, batch, sqlite, empty)
            writes.wait()
        return len(ids)

    def get(self, arxiv_id: str) -> PaperRecord | None:
        """The paper ``arxiv_id`` (as :func:`paper_key` gives it), or None."""
        with self.engine.connect() as conn:
            found = conn.execute(select(papers.c.data).where(
                papers.c.arxiv_id == arxiv_id)).scalar_one_or_none()
        return from_json(found) if found is not None else None

    def many(self, ids: Iterable[str]) -> dict[str, PaperRecord]:
        """The indexed papers among ``ids``."""
        found: dict[str, PaperRecord] = {}
        with self.engine.connect() as conn:
            for chunk in _chunks(sorted(set(ids))):
                for data in conn.execute(select(papers.c.data).where(
                        papers.c.arxiv_id.in_(chunk))).scalars():
                    record = from_json(data)
                    found[record.arxiv_id] = record
        return found

    def search(self, query: str, category: str | None = None, year: int | None = None,
               limit: int = 20, offset: int = 0) -> SearchPage:
        """Papers matching ``query`` (any text: see ``query_parts``), best first; with an
        empty query, the papers of ``category`` and ``year``, newest first."""
        with self.engine.connect() as conn:
            found, more = search_papers(conn, query, category, year, limit, offset)
        return SearchPage(tuple(from_json(data) for data in found), more)

    def facets(self) -> tuple[list[str], list[int]]:
        """The categories and years search can filter by."""
        with self.engine.connect() as conn:
            codes = conn.execute(select(papers.c.category).distinct()
                                 .order_by(papers.c.category)).scalars().all()
            years = conn.execute(select(papers.c.year).distinct()
                                 .order_by(papers.c.year.desc())).scalars().all()
        return [str(c) for c in codes], [int(y) for y in years]
