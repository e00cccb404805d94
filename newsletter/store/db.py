"""Engines, migrations and the schema check."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event

from newsletter.errors import SchemaOutOfDateError

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for ``url``; SQLite gets WAL mode, foreign keys and a busy timeout."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str) -> None:
    """Apply every migration not yet applied (``newsletter db upgrade``)."""
    command.upgrade(alembic_config(url), "head")


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def check_schema(engine: Engine) -> None:
    """Raise :class:`SchemaOutOfDateError` unless the database is at the newest migration.

    A SQLite database is upgraded in place instead: it is a single local file and nobody
    else is running against it.
    """
    current, head = current_revision(engine), head_revision()
    if current == head:
        return
    url = engine.url.render_as_string(hide_password=False)
    if engine.dialect.name == "sqlite":
        upgrade(url)
        return
    raise SchemaOutOfDateError(
        f"the database schema is at {current or 'nothing'}, this version needs {head}; "
        "run: newsletter db upgrade"
    )


def open_database(url: str) -> Engine:
    """An engine for ``url`` whose schema is current (or a clear error saying what to run)."""
    engine = make_engine(url)
    try:
        check_schema(engine)
    except BaseException:
        engine.dispose()
        raise
    return engine
