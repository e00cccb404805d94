"""The schema check's shortcut (issue #23): HEAD_REVISION is alembic's head."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from newsletter.errors import SchemaOutOfDateError
from newsletter.store.db import HEAD_REVISION, current_revision, head_revision, make_engine, upgrade


def test_head_revision_constant_is_the_newest_migration() -> None:
    """A new migration without a new HEAD_REVISION fails here, not in a reader's send."""
    assert head_revision() == HEAD_REVISION


def test_current_revision_reads_the_version_table(tmp_path: Path) -> None:
    """None before any migration, the head after, and several rows are refused."""
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    engine = make_engine(url)
    try:
        assert current_revision(engine) is None
        upgrade(url)
        assert current_revision(engine) == HEAD_REVISION
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO alembic_version (version_num) VALUES ('0001')"))
        with pytest.raises(SchemaOutOfDateError, match="several revisions"):
            current_revision(engine)
    finally:
        engine.dispose()
