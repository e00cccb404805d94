"""What every store shares: one :class:`Database`, and only our errors out of it.

Each public method of a :class:`Store` subclass is wrapped when the class is made, so that
a SQLAlchemy failure inside it leaves as our :class:`DatabaseError` (a ``StoreError``),
with the fix that fits it; a new method cannot forget to translate.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from newsletter.store.db import Database, describe


def _translating(method: Callable[..., Any]) -> Callable[..., Any]:
    if inspect.isgeneratorfunction(method):

        @functools.wraps(method)
        def generator(self: Store, *args: Any, **kwargs: Any) -> Iterator[Any]:
            try:
                yield from method(self, *args, **kwargs)
            except SQLAlchemyError as error:
                raise describe(error, self.db.url) from error

        return generator

    @functools.wraps(method)
    def plain(self: Store, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except SQLAlchemyError as error:
            raise describe(error, self.db.url) from error

    return plain


class Store:
    """A store over ``db``: its public methods raise only the ``StoreError`` family."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.engine = db.engine

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name, value in list(vars(cls).items()):
            if not name.startswith("_") and inspect.isfunction(value):
                setattr(cls, name, _translating(value))
