"""The database: engines, migrations, the schema check, and its failures told as ours.

Everything above the store sees a :class:`Database`, never a SQLAlchemy engine.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError

from newsletter.errors import (
    ConfigurationError,
    DatabaseError,
    DatabaseUnavailableError,
    SchemaOutOfDateError,
)

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# The newest migration's revision. A database at it is current without loading alembic
# (a third of a second of every command's start-up, issue #23); a test checks that it is
# alembic's head, so a new migration cannot be forgotten here.
HEAD_REVISION = "0019"


def make_engine(
    url: str, *, timeout: float = 30.0, lock_timeout: float | None = None, **kwargs: Any
) -> Engine:
    """An engine for ``url``; SQLite gets WAL mode, foreign keys and a busy timeout.

    ``timeout`` (seconds) bounds waiting for a locked SQLite file or for connecting to
    PostgreSQL; ``lock_timeout`` bounds waiting for a PostgreSQL row lock. The web app uses
    short ones so that a request fails fast (503) instead.
    """
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": timeout}, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    if url.startswith("postgresql"):
        kwargs.setdefault("pool_timeout", timeout)
        kwargs.setdefault("connect_args", {"connect_timeout": max(1, round(timeout))})
    engine = create_engine(url, pool_pre_ping=True, **kwargs)
    if engine.dialect.name == "postgresql":
        settings = [
            # psycopg prepares a statement run five times; PostgreSQL then may switch to a
            # generic plan, and its generic plan for our IN lists of bound values was four
            # times slower (the known-events lookup: 1.1-2.0 ms at 10,000 rows, against
            # 0.3). Our statements are small and cheap to plan: plan each for its values.
            "SET plan_cache_mode = force_custom_plan",
        ]
        if lock_timeout is not None:
            settings.append(f"SET lock_timeout = {max(1, round(lock_timeout * 1000))}")

        @event.listens_for(engine, "connect")
        def _session_settings(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            for statement in settings:
                cursor.execute(statement)
            cursor.close()
            dbapi_connection.commit()

    return engine


def alembic_config(url: str) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str) -> None:
    """Apply every migration not yet applied (``newsletter db upgrade``)."""
    if _at_head(url):
        return  # alembic would load all the migration scripts to find nothing to do
    from alembic import command

    command.upgrade(alembic_config(url), "head")


def _at_head(url: str) -> bool:
    """Whether the database is at :data:`HEAD_REVISION`; False when that cannot be read
    (alembic then tells what is wrong, as before)."""
    try:
        engine = make_engine(url)
        try:
            return current_revision(engine) == HEAD_REVISION
        finally:
            engine.dispose()
    except (SQLAlchemyError, SchemaOutOfDateError):
        return False


def head_revision() -> str | None:
    """The newest revision among the migration scripts, as alembic reads them."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (alembic's version table); None without one."""
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        found = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    if len(found) > 1:
        raise SchemaOutOfDateError(f"the database is at several revisions at once: {found}")
    return str(found[0]) if found else None


def check_schema(engine: Engine, *, create: bool = True) -> None:
    """Raise :class:`SchemaOutOfDateError` unless the database is at the newest migration.

    A SQLite database is upgraded in place instead: it is a single local file and nobody
    else is running against it. Without ``create``, one with no schema at all is refused
    (:class:`ConfigurationError`): it is not the newsletter's database.
    """
    current = current_revision(engine)
    if current == HEAD_REVISION:
        return
    head = head_revision()
    if current == head:
        return
    url = engine.url.render_as_string(hide_password=False)
    if current is None and not create:
        raise ConfigurationError(
            f"NEWSLETTER_DATABASE_URL ({safe_url(url)}) has no newsletter tables: it is "
            "not this newsletter's database. Point the setting at the right one, or create "
            "the tables with: newsletter db upgrade"
        )
    if engine.dialect.name == "sqlite":
        upgrade(url)
        return
    raise SchemaOutOfDateError(
        f"the database schema is at {current or 'nothing'}, this version needs {head}; "
        "run: newsletter db upgrade"
    )


class Database:
    """One database the stores share: its engine, and how its failures read.

    Built by :func:`open_database`; every store takes one. ``url`` is kept for messages
    (``safe_url`` masks its password when it is shown).
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.url = engine.url.render_as_string(hide_password=False)

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    def translated(self) -> AbstractContextManager[None]:
        """A block whose database failures leave it as :class:`DatabaseError`."""
        return translated(self.url)

    def ping(self) -> None:
        """One round trip to the database; :class:`DatabaseError` when it does not answer."""
        with self.translated(), self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def close(self) -> None:
        """Close every pooled connection (the stores built on it cannot be used after)."""
        self.engine.dispose()


def open_database(
    url: str, *, timeout: float = 30.0, lock_timeout: float | None = None, create: bool = True
) -> Database:
    """The database at ``url`` with a current schema (or a clear error saying what to run).

    ``timeout`` and ``lock_timeout`` as for :func:`make_engine`. With ``create`` a SQLite
    file that is missing or empty is made; without it (commands that only read or send)
    that is a :class:`ConfigurationError` naming the setting and the file: a cron job run
    from the wrong folder must not find an empty list and call it a quiet day. Raises
    :class:`SchemaOutOfDateError`, or :class:`DatabaseError` when the database fails.
    """
    if not create:
        _require_sqlite_file(url)
    with translated(url):
        engine = make_engine(url, timeout=timeout, lock_timeout=lock_timeout)
        try:
            check_schema(engine, create=create)
        except BaseException:
            engine.dispose()
            raise
    return Database(engine)


def _require_sqlite_file(url: str) -> None:
    try:
        parsed = make_url(url)
    except ArgumentError:
        return  # make_engine says what is wrong with it
    if not parsed.drivername.startswith("sqlite") or parsed.database in (None, "", ":memory:"):
        return
    path = Path(parsed.database or "").expanduser()
    if not path.exists():
        raise ConfigurationError(
            f"NEWSLETTER_DATABASE_URL ({safe_url(url)}): there is no database at "
            f"{path.resolve()} (relative paths start from the working folder, {Path.cwd()}). "
            "Set it to the database's absolute path, e.g. sqlite:////srv/newsletter/"
            "newsletter.db; a new one is made by `newsletter db upgrade`."
        )


def upgrade_database(url: str) -> tuple[str | None, str | None]:
    """Apply every migration not yet applied; the revisions before and after."""
    with translated(url):
        engine = make_engine(url)
        try:
            before = current_revision(engine)
            upgrade(url)
            return before, current_revision(engine)
        finally:
            engine.dispose()


# -- our own errors at the boundary ------------------------------------------------------

# What SQLite and PostgreSQL say about a table or column that is not there: the schema is
# older than the code, which `newsletter db upgrade` fixes.
_MISSING_SCHEMA = re.compile(
    r"no such (table|column)|has no column named|"
    r"(relation|column|table|schema) \S+ does not exist",
    re.IGNORECASE,
)


def safe_url(url: str) -> str:
    """``url`` with its password masked, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(unparseable URL)"


def first_line(error: SQLAlchemyError) -> str:
    """The first line of the driver's message for a database failure (else SQLAlchemy's)."""
    lines = str(getattr(error, "orig", None) or error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def describe(error: SQLAlchemyError, url: str) -> DatabaseError:
    """Our error for a database failure: one line, with the fix that fits it.

    Only a missing table or column suggests ``newsletter db upgrade``; a database that
    cannot be reached (refused, unknown host, bad password) needs the URL or the server
    fixed instead.
    """
    first = first_line(error)
    where = f"NEWSLETTER_DATABASE_URL ({safe_url(url)})"
    # SQLAlchemy records no statement when the failure was in connecting.
    if isinstance(error, DBAPIError) and error.statement is None:
        advice = f"check {where} and that the database server is running"
        return DatabaseUnavailableError(f"database error: {first}; {advice}")
    if _MISSING_SCHEMA.search(first):
        return DatabaseError(f"database error: {first}; the schema is out of date; "
                             "run: newsletter db upgrade")
    return DatabaseError(f"database error: {first}; check {where}")


@contextmanager
def translated(url: str) -> Iterator[None]:
    """Database failures inside the block leave it as :class:`DatabaseError`."""
    try:
        yield
    except SQLAlchemyError as error:
        raise describe(error, url) from error
