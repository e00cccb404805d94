"""the paper index and its search (issue 20)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 08:30:00

"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "paper_issues",
        sa.Column("issue_date", sa.String(length=10), nullable=False),
        sa.Column("version", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("issue_date", name=op.f("pk_paper_issues")),
    )
    op.create_table(
        "paper_appearances",
        sa.Column("arxiv_id", sa.String(length=40), nullable=False),
        sa.Column("issue_date", sa.String(length=10), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("arxiv_id", "issue_date", name=op.f("pk_paper_appearances")),
    )
    op.create_index(op.f("ix_paper_appearances_issue_date"), "paper_appearances",
                    ["issue_date"], unique=False)
    op.create_table(
        "papers",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("arxiv_id", sa.String(length=40), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("first_date", sa.String(length=10), nullable=False),
        sa.Column("last_date", sa.String(length=10), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("search", postgresql.TSVECTOR().with_variant(sa.Text(), "sqlite"), nullable=True),
        sa.Column("title_search", postgresql.TSVECTOR().with_variant(sa.Text(), "sqlite"), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_papers")),
        sa.UniqueConstraint("arxiv_id", name=op.f("uq_papers_arxiv_id")),
    )
    op.create_index(op.f("ix_papers_category"), "papers", ["category"], unique=False)
    op.create_index(op.f("ix_papers_last_date"), "papers", ["last_date"], unique=False)
    op.create_index(op.f("ix_papers_year"), "papers", ["year"], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        op.create_index("ix_papers_search", "papers", ["search"], unique=False,
                        postgresql_using="gin")
        op.create_index("ix_papers_title_search", "papers", ["title_search"], unique=False,
                        postgresql_using="gin")
    else:
        # Terms are cut by newsletter.model.papers.terms (words, Chinese bigrams) and
        # joined by spaces; unicode61 only splits them there again.
        op.execute("CREATE VIRTUAL TABLE paper_fts USING fts5("
                   "title, people, body, tokenize = 'unicode61 remove_diacritics 0')")
        # The titles again, alone: a column filter on paper_fts would read every match.
        op.execute("CREATE VIRTUAL TABLE paper_title_fts USING fts5("
                   "title, tokenize = 'unicode61 remove_diacritics 0')")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_papers_title_search", table_name="papers")
        op.drop_index("ix_papers_search", table_name="papers")
    else:
        op.execute("DROP TABLE paper_title_fts")
        op.execute("DROP TABLE paper_fts")
    op.drop_index(op.f("ix_papers_year"), table_name="papers")
    op.drop_index(op.f("ix_papers_last_date"), table_name="papers")
    op.drop_index(op.f("ix_papers_category"), table_name="papers")
    op.drop_table("papers")
    op.drop_index(op.f("ix_paper_appearances_issue_date"), table_name="paper_appearances")
    op.drop_table("paper_appearances")
    op.drop_table("paper_issues")
