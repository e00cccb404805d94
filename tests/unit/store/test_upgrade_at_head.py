"""``upgrade`` on a database already at the newest migration returns without running
alembic; an older database is still migrated, and a broken URL still fails as before."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy.exc import OperationalError

from newsletter.store.db import HEAD_REVISION, alembic_config, current_revision, make_engine
from newsletter.store.db import upgrade as upgrade_database


def revision(url: str) -> str | None:
    engine = make_engine(url)
    try:
        return current_revision(engine)
    finally:
        engine.dispose()


def test_a_current_database_is_left_to_itself(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_alembic(*args: object, **kwargs: object) -> None:
        raise AssertionError("alembic ran on a current database")

    monkeypatch.setattr(command, "upgrade", no_alembic)
    upgrade_database(database_url)
    assert revision(database_url) == HEAD_REVISION


@pytest.mark.slow
def test_an_older_database_is_migrated_to_the_head(empty_database_url: str) -> None:
    command.upgrade(alembic_config(empty_database_url), "0016")
    assert revision(empty_database_url) == "0016"
    upgrade_database(empty_database_url)
    assert revision(empty_database_url) == HEAD_REVISION


def test_a_database_that_cannot_be_reached_fails_in_alembic_as_before() -> None:
    with pytest.raises(OperationalError):
        upgrade_database("postgresql+psycopg://nobody@127.0.0.1:1/nothing")
