"""The paper index and its search (issue 20).

On the ``metadata`` of ``tables.py``, which imports this module.
"""

from __future__ import annotations

from sqlalchemy import Column, Index, Integer, String, Table, Text, text
from sqlalchemy.dialects.postgresql import TSVECTOR

from newsletter.store.tables import Id, metadata

# -- the paper index (issue 20) ----------------------------------------------------------

# Which published issue files the paper index holds, and the version of each it read
# (the file's size and modification time), so that only changed issues are read again.
paper_issues = Table(
    "paper_issues",
    metadata,
    Column("issue_date", String(10), primary_key=True),
    Column("version", String(100), nullable=False),
)

# Each paper as one issue gave it (JSON of a one-appearance PaperRecord).
paper_appearances = Table(
    "paper_appearances",
    metadata,
    Column("arxiv_id", String(40), primary_key=True),
    Column("issue_date", String(10), primary_key=True, index=True),
    Column("data", Text, nullable=False),
)

# One row per paper: every appearance merged (JSON of a PaperRecord), and what search
# filters on. ``search`` is the weighted full-text vector on PostgreSQL; SQLite searches
# the FTS5 tables ``paper_fts`` and ``paper_title_fts`` instead (rowid = ``papers.id``),
# made by migration 0009 since SQLAlchemy cannot declare a virtual table.
papers = Table(
    "papers",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("arxiv_id", String(40), nullable=False, unique=True),
    Column("category", String(32), nullable=False, index=True),
    Column("first_date", String(10), nullable=False),
    Column("last_date", String(10), nullable=False, index=True),
    Column("year", Integer, nullable=False, index=True),
    Column("data", Text, nullable=False),
    Column("search", TSVECTOR().with_variant(Text(), "sqlite")),
    # The titles alone, so that search can take the papers whose titles match first.
    Column("title_search", TSVECTOR().with_variant(Text(), "sqlite")),
)
# The vectors' index is two, each over half the papers: PostgreSQL builds each on one core,
# so a large change builds both at once (``paper_indexes``); search asks both.
for _half, _name in enumerate(("even", "odd")):
    Index(f"ix_papers_search_{_name}", papers.c.search, postgresql_using="gin",
          postgresql_where=text(f"id % 2 = {_half}")).ddl_if(dialect="postgresql")
Index("ix_papers_title_search", papers.c.title_search,
      postgresql_using="gin").ddl_if(dialect="postgresql")

# Tables the migrations make that SQLAlchemy cannot declare, per backend: SQLite's FTS5
# table and the shadow tables FTS5 keeps its index in.
UNDECLARED_TABLES = {
    "sqlite": frozenset(f"{table}{shadow}" for table in ("paper_fts", "paper_title_fts")
                        for shadow in ("", "_data", "_idx", "_content", "_docsize", "_config")),
    "postgresql": frozenset(),
}
