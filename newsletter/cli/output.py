"""What the CLI modules share: the two consoles, ``fail``, and one line per known failure."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console

from newsletter.errors import NewsletterError

# Exit statuses: 1 for a failure, 2 for a bad option value (as click exits on a usage error).
BAD_OPTION = 2

# soft_wrap: never insert line breaks, so FILE:LINE: messages stay one line each in pipes.
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print ``message`` to stderr and return the exit to raise (``raise fail(...)``)."""
    err.print(message, markup=False)
    return typer.Exit(code)


def bad_option(message: str) -> typer.Exit:
    """``fail`` for an option value that is not allowed: exit status 2, as click's own."""
    return fail(message, BAD_OPTION)


@contextmanager
def reported() -> Iterator[None]:
    """Turn our errors (database failures included) into one line on stderr, exit status 1."""
    try:
        yield
    except NewsletterError as error:
        raise fail(str(error)) from None


class _Formatter(logging.Formatter):
    """Plain messages on a terminal; a timestamp and the level on logs and pipes."""

    def __init__(self, tty: bool) -> None:
        super().__init__(None if tty else "%(asctime)s %(levelname)s %(message)s")


def configure_logging(verbosity: int, *, tty: bool | None = None) -> None:
    """Log lines of the package to stderr: -1 warnings only, 0 info, 1 debug."""
    level = {-1: logging.WARNING, 0: logging.INFO}.get(verbosity, logging.DEBUG)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Formatter(sys.stderr.isatty() if tty is None else tty))
    logger = logging.getLogger("newsletter")
    for old in list(logger.handlers):
        logger.removeHandler(old)
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False


def log_line(line: str) -> None:
    """A progress or status line for the operator (hidden by --quiet)."""
    logging.getLogger("newsletter.cli").info(line)
