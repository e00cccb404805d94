"""What the CLI modules share: the two consoles, ``fail``, and one line per known failure."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console

from newsletter.errors import NewsletterError

# soft_wrap: never insert line breaks, so FILE:LINE: messages stay one line each in pipes.
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print ``message`` to stderr and return the exit to raise (``raise fail(...)``)."""
    err.print(message, markup=False)
    return typer.Exit(code)


@contextmanager
def reported() -> Iterator[None]:
    """Turn our errors (database failures included) into one line on stderr, exit status 1."""
    try:
        yield
    except NewsletterError as error:
        raise fail(str(error)) from None
