"""issue 20 paper index: the vectors' GIN index in two halves, built at once

PostgreSQL 15 builds a GIN index on one core, and building the index of the papers'
vectors was most of building the paper index (27-37 s for 100,000 papers). The index is
now two, each over half the papers (``id % 2``): a large change builds them from two
connections at once (``newsletter.store.paper_indexes``), and search asks both. On a
large install this migration builds both halves, one after the other.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06 17:40:00

"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

HALVES = (("ix_papers_search_even", "id % 2 = 0"), ("ix_papers_search_odd", "id % 2 = 1"))


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_index("ix_papers_search", table_name="papers")
    for name, predicate in HALVES:
        op.create_index(name, "papers", ["search"], unique=False, postgresql_using="gin",
                        postgresql_where=sa.text(predicate))


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name, _ in HALVES:
        op.drop_index(name, table_name="papers")
    op.create_index("ix_papers_search", "papers", ["search"], unique=False,
                    postgresql_using="gin")
