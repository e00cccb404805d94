"""What the CLI modules share: the two consoles, ``fail``, and one line per known failure."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import typer
from rich.console import Console
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from newsletter.errors import NewsletterError

# soft_wrap: never insert line breaks, so FILE:LINE: messages stay one line each in pipes.
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print ``message`` to stderr and return the exit to raise (``raise fail(...)``)."""
    err.print(message, markup=False)
    return typer.Exit(code)


# What SQLite and PostgreSQL say about a table or column that is not there: the schema is
# older than the code, which `newsletter db upgrade` fixes.
_MISSING_SCHEMA = re.compile(
    r"no such (table|column)|has no column named|"
    r"(relation|column|table|schema) \S+ does not exist",
    re.IGNORECASE,
)


def first_line(error: SQLAlchemyError) -> str:
    """The first line of the driver's message for a database failure (else SQLAlchemy's)."""
    lines = str(getattr(error, "orig", None) or error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def database_problem(error: SQLAlchemyError) -> str:
    """One line for a database failure, with the fix that fits it.

    Only a missing table or column suggests ``newsletter db upgrade``; a database that
    cannot be reached (refused, unknown host, bad password) needs the URL or the server
    fixed instead.
    """
    first = first_line(error)
    # SQLAlchemy records no statement when the failure was in connecting.
    if isinstance(error, DBAPIError) and error.statement is None:
        advice = "check NEWSLETTER_DATABASE_URL and that the database server is running"
    elif _MISSING_SCHEMA.search(first):
        advice = "the schema is out of date; run: newsletter db upgrade"
    else:
        advice = "check NEWSLETTER_DATABASE_URL"
    return f"database error: {first}; {advice}"


@contextmanager
def reported(
    describe: Callable[[SQLAlchemyError], str] = database_problem,
) -> Iterator[None]:
    """Turn our errors and database failures into one line on stderr and exit status 1."""
    try:
        yield
    except NewsletterError as error:
        raise fail(str(error)) from None
    except SQLAlchemyError as error:
        raise fail(describe(error)) from None
