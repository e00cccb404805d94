"""the paper index builds faster on SQLite: FTS5 keeps more pending text in memory (issue 20)

FTS5 writes what it has indexed so far as a new segment whenever its pending text passes
``hashsize`` (1 MB by default), and merges segments as they pile up: building the index
of 100,000 papers in one transaction wrote and merged hundreds of segments, about half of
its time. With 32 MB per table (memory a large change may use while it lasts) the same
build takes about half as long; small changes are unaffected. A setting FTS5 stores in
each table's ``_config``; PostgreSQL has nothing to change.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 11:45:00

"""

from __future__ import annotations

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

FTS_TABLES = ("paper_fts", "paper_title_fts")
HASHSIZE = 32 * 1024 * 1024
DEFAULT_HASHSIZE = 1024 * 1024


def _hashsize(size: int) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for table in FTS_TABLES:  # fixed names and an integer
        op.execute(f"INSERT INTO {table}({table}, rank) VALUES ('hashsize', {size})")  # noqa: S608


def upgrade() -> None:
    _hashsize(HASHSIZE)


def downgrade() -> None:
    _hashsize(DEFAULT_HASHSIZE)
