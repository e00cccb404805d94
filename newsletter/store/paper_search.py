"""Searching the paper index: SQLite's FTS5 (bm25) or PostgreSQL's full text (ts_rank).

Both search the same terms (``newsletter.model.papers.terms``: words, and Chinese as
overlapping bigrams). A query never reaches either database as syntax: it is cut into
those terms first, and each is quoted, so quotes, operators and junk only ever find
nothing. Titles weigh most, then authors and affiliations, then abstracts and summaries.

Ranking every match of a common word among 100,000 papers costs more than a page may
take, so results come in two tiers: papers whose titles match (at most
:data:`CANDIDATES`, the most recently indexed), then the others (at most
:data:`OTHER_CANDIDATES`: on SQLite the most recently indexed, on PostgreSQL the first
the index gives), each tier ranked within itself.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, bindparam, select, text
from sqlalchemy.sql import Select

from newsletter.model.papers import QueryPart, query_parts
from newsletter.store.tables_papers import papers

CANDIDATES = 1000  # papers whose titles match, ranked by their titles
OTHER_CANDIDATES = 500  # other matches, ranked by everything


def fts5_query(parts: list[QueryPart]) -> str:
    """The FTS5 MATCH expression: every part; a Chinese run as a phrase of its bigrams."""
    def one(part: QueryPart) -> str:
        quoted = " + ".join(f'"{term}"' for term in part.terms)
        return quoted + "*" if part.prefix else quoted

    return " AND ".join(one(part) for part in parts)


def tsquery_text(parts: list[QueryPart]) -> str:
    """The PostgreSQL ``tsquery`` literal: every part; a Chinese run as a phrase (``<->``)."""
    def one(part: QueryPart) -> str:
        quoted = " <-> ".join("'" + term.replace("'", "''") + "'" for term in part.terms)
        return f"{quoted}:*" if part.prefix else f"( {quoted} )"

    return " & ".join(one(part) for part in parts)


def _filters(category: str | None, year: int | None, alias: str) -> tuple[str, dict[str, object]]:
    sql, params = "", dict[str, object]()
    if category is not None:
        sql += f" AND {alias}.category = :category"
        params["category"] = category
    if year is not None:
        sql += f" AND {alias}.year = :year"
        params["year"] = year
    return sql, params


def _ranked_sqlite(conn: Connection, parts: list[QueryPart], titles: bool,
                   category: str | None, year: int | None, need: int) -> list[int]:
    fts = "paper_title_fts" if titles else "paper_fts"
    rank = "bm25(paper_title_fts)" if titles else "bm25(paper_fts, 10.0, 4.0, 1.0)"
    where, params = _filters(category, year, "p")
    join = f" JOIN papers p ON p.id = {fts}.rowid" if where else ""
    # FTS5 walks the matches newest first and stops at the cap; only fixed pieces of ours
    # are put into the text, every value is bound.
    return list(conn.execute(text(
        f"SELECT id FROM (SELECT {fts}.rowid AS id, {rank} AS score FROM {fts}{join} "  # noqa: S608
        f"WHERE {fts} MATCH :match{where} ORDER BY {fts}.rowid DESC LIMIT :cap) "
        "ORDER BY score, id DESC LIMIT :need"),
        {"match": fts5_query(parts), "cap": CANDIDATES if titles else OTHER_CANDIDATES,
         "need": need, **params}).scalars())


def _ranked_postgresql(conn: Connection, parts: list[QueryPart], titles: bool,
                       category: str | None, year: int | None, need: int) -> list[int]:
    where, params = _filters(category, year, "papers")
    # The planner does not count what reading each long tsvector costs: for a common word it
    # would filter the table (or walk the primary key backwards) reading every vector, ten
    # times slower than the GIN index, which answers without reading them. Hence no
    # sequential scan, and no ORDER BY the primary key could give; only the candidates'
    # vectors are read, and ranked as they come (not looked up again). Title matches are
    # few: the newest come first. The other matches of a common word can be tens of
    # thousands: the first the index gives are taken, unsorted.
    conn.execute(text("SET LOCAL enable_seqscan = off"))
    vector = "title_search" if titles else "search"
    order = " ORDER BY id + 0 DESC" if titles else ""
    match = f"{vector} @@ CAST(:query AS tsquery)"
    if not titles:  # the vectors' index is two halves (tables_papers): one arm for each
        match = f"(({match} AND id % 2 = 0) OR ({match} AND id % 2 = 1))"
    candidates = (f"SELECT id, {vector} AS vector FROM papers "  # noqa: S608
                  f"WHERE {match}{where}{order} LIMIT :cap")
    return list(conn.execute(text(
        f"SELECT c.id FROM ({candidates}) c "  # noqa: S608
        "ORDER BY ts_rank(c.vector, CAST(:query AS tsquery)) DESC, c.id DESC LIMIT :need"),
        {"query": tsquery_text(parts), "cap": CANDIDATES if titles else OTHER_CANDIDATES,
         "need": need, **params}).scalars())


def _filtered(query: Select[tuple[str]], category: str | None, year: int | None
              ) -> Select[tuple[str]]:
    if category is not None:
        query = query.where(papers.c.category == category)
    if year is not None:
        query = query.where(papers.c.year == year)
    return query


def _data(conn: Connection, ids: Sequence[int]) -> list[str]:
    """The ``data`` of the papers ``ids``, in that order."""
    if not ids:
        return []
    found = dict(conn.execute(select(papers.c.id, papers.c.data).where(
        papers.c.id.in_(bindparam("ids", expanding=True))), {"ids": list(ids)}).all())
    return [str(found[i]) for i in ids if i in found]


def search_papers(conn: Connection, query: str, category: str | None, year: int | None,
                  limit: int, offset: int) -> tuple[list[str], bool]:
    """The ``data`` of the matching papers on this page, and whether more follow."""
    parts = query_parts(query)
    if not parts:
        if category is None and year is None:
            return [], False
        statement = _filtered(select(papers.c.data), category, year).order_by(
            papers.c.last_date.desc(), papers.c.arxiv_id).limit(limit + 1).offset(offset)
        rows = conn.execute(statement).scalars().all()
        return [str(row) for row in rows[:limit]], len(rows) > limit
    ranked = _ranked_sqlite if conn.dialect.name == "sqlite" else _ranked_postgresql
    need = offset + limit + 1
    ids = ranked(conn, parts, True, category, year, need)
    if len(ids) < need:
        seen = set(ids)
        ids += [i for i in ranked(conn, parts, False, category, year, need + len(ids))
                if i not in seen][: need - len(ids)]
    return _data(conn, ids[offset : offset + limit]), len(ids) > offset + limit
