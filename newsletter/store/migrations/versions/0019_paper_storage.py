"""issue 20 paper index: vectors stored uncompressed, JSON compressed with LZ4

PostgreSQL tried to compress every paper's search vectors with its own pglz before
storing them, and seldom could (a vector is mostly distinct words and positions): the
attempts cost a tenth of the server's CPU in writing 100,000 papers, for tables a tenth
larger at most. The vectors are now stored out of line as they are (``STORAGE EXTERNAL``:
no attempt), and the papers' JSON, which compresses well, with LZ4 where the server was
built with it (several times faster than pglz both ways; paper pages read it). Rows
written before keep their form until the index writes them again.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06 21:00:00

"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

VECTORS = ("search", "title_search")
JSON = (("papers", "data"), ("paper_appearances", "data"))


def _lz4(bind: sa.Connection) -> bool:
    """Whether this server can compress with LZ4 (built ``--with-lz4``)."""
    choices = bind.execute(sa.text(
        "SELECT enumvals FROM pg_settings WHERE name = 'default_toast_compression'")).scalar()
    return "lz4" in (choices or [])


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    for column in VECTORS:
        op.execute(f"ALTER TABLE papers ALTER COLUMN {column} SET STORAGE EXTERNAL")
    if _lz4(bind):
        for table, column in JSON:
            op.execute(f"ALTER TABLE {table} ALTER COLUMN {column} SET COMPRESSION lz4")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for column in VECTORS:
        op.execute(f"ALTER TABLE papers ALTER COLUMN {column} SET STORAGE EXTENDED")
    for table, column in JSON:
        op.execute(f"ALTER TABLE {table} ALTER COLUMN {column} SET COMPRESSION DEFAULT")
