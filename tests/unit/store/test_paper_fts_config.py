"""Migration 0015: SQLite's paper search tables keep 32 MB of pending text in memory."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from sqlalchemy import text

from newsletter.store.db import alembic_config, make_engine, upgrade


def hashsizes(url: str) -> list[object]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return [conn.execute(text(f"SELECT v FROM {table}_config WHERE k = 'hashsize'")  # noqa: S608
                                 ).scalar_one_or_none()
                    for table in ("paper_fts", "paper_title_fts")]
    finally:
        engine.dispose()


def test_the_search_tables_get_a_larger_hash_and_lose_it_on_downgrade(tmp_path: Path) -> None:
    """Upgraded, both FTS5 tables hold 32 MB before writing a segment; downgraded to 0014
    they are back to FTS5's default of 1 MB; upgraded again, 32 MB."""
    url = f"sqlite:///{tmp_path / 'fts.db'}"
    upgrade(url)
    assert hashsizes(url) == [32 * 1024 * 1024] * 2
    command.downgrade(alembic_config(url), "0014")
    assert hashsizes(url) == [1024 * 1024] * 2
    upgrade(url)
    assert hashsizes(url) == [32 * 1024 * 1024] * 2
