"""Searching the paper index: SQLite's FTS5 (bm25) or PostgreSQL's full text (ts_rank).

Both search the same terms (``newsletter.model.papers.terms``: words, and Chinese as
overlapping bigrams). A query never reaches either database as syntax: it is cut into
those terms first, and each is quoted, so quotes, operators and junk only ever find
nothing. Titles weigh most, then authors and affiliations, then abstracts and summaries.
"""

from __future__ import annotations

from sqlalchemy import Connection, bindparam, cast, func, literal_column, select, text
from sqlalchemy.dialects.postgresql import TSQUERY
from sqlalchemy.sql import Select

from newsletter.model.papers import QueryPart, query_parts
from newsletter.store.tables import papers

# bm25 weights of paper_fts's columns: title, people, body.
_BM25 = "bm25(paper_fts, 10.0, 4.0, 1.0)"


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


def _filtered(query: Select[tuple[str]], category: str | None, year: int | None
              ) -> Select[tuple[str]]:
    if category is not None:
        query = query.where(papers.c.category == category)
    if year is not None:
        query = query.where(papers.c.year == year)
    return query


def search_papers(conn: Connection, query: str, category: str | None, year: int | None,
                  limit: int, offset: int) -> tuple[list[str], bool]:
    """The ``data`` of the matching papers on this page, and whether more follow."""
    parts = query_parts(query)
    if not parts:
        if category is None and year is None:
            return [], False
        statement = _filtered(select(papers.c.data), category, year).order_by(
            papers.c.last_date.desc(), papers.c.arxiv_id)
    elif conn.dialect.name == "sqlite":
        statement = _filtered(
            select(papers.c.data)
            .select_from(papers.join(text("paper_fts"), literal_column("paper_fts.rowid")
                                     == papers.c.id))
            .where(text("paper_fts MATCH :match").bindparams(match=fts5_query(parts))),
            category, year,
        ).order_by(literal_column(_BM25), papers.c.arxiv_id)
    else:
        ts = cast(bindparam("ts", tsquery_text(parts)), TSQUERY)
        statement = _filtered(
            select(papers.c.data).where(papers.c.search.op("@@")(ts)), category, year,
        ).order_by(func.ts_rank(papers.c.search, ts).desc(), papers.c.arxiv_id)
    rows = conn.execute(statement.limit(limit + 1).offset(offset)).scalars().all()
    return [str(row) for row in rows[:limit]], len(rows) > limit
