"""REST API bearer tokens (issue 22). Only the sha256 of a token is stored, so a copy of
the database lets nobody in; a token is shown once, when it is made."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from newsletter.clock import utc_now
from newsletter.errors import ApiError
from newsletter.store.base import Store
from newsletter.store.db import Database
from newsletter.store.tables_api import api_tokens

TOKEN_PREFIX = "nl_"  # noqa: S105 (a prefix that makes leaked tokens easy to spot)
# last_used_at is written at most this often per token: one write a minute, not a request.
TOUCH_EVERY = dt.timedelta(minutes=1)


def token_key(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class ApiToken:
    id: int
    name: str
    scope: str  # read or write
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None


def _token(row: Row[Any]) -> ApiToken:
    return ApiToken(int(row.id), row.name, row.scope, row.created_at, row.last_used_at,
                    row.revoked_at)


class ApiTokenStore(Store):
    """Makes, checks, lists and revokes tokens; ``clock`` gives aware UTC times."""

    def __init__(self, db: Database, clock: Callable[[], dt.datetime] = utc_now) -> None:
        super().__init__(db)
        self.clock = clock

    def create(self, name: str, scope: str) -> str:
        """A new token named ``name`` (unique, also among revoked ones); the token itself,
        which is not kept. Raises ``ApiError`` (409) when the name is taken."""
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(api_tokens).values(
                    name=name, token_hash=token_key(token), scope=scope,
                    created_at=self.clock(),
                ))
        except IntegrityError:
            raise ApiError(409, "conflict", f"a token named {name!r} exists already (revoked "
                           "tokens keep their names); choose another name") from None
        return token

    def check(self, token: str) -> ApiToken | None:
        """The live token ``token`` is, its last use recorded; None when unknown or revoked."""
        key = token_key(token)
        now = self.clock()
        with self.engine.connect() as conn:
            row = conn.execute(select(api_tokens).where(
                api_tokens.c.token_hash == key, api_tokens.c.revoked_at.is_(None))).first()
        if row is None:
            return None
        if row.last_used_at is None or row.last_used_at < now - TOUCH_EVERY:
            # A write only now and then: most requests only read.
            with self.engine.begin() as conn:
                conn.execute(update(api_tokens).where(
                    api_tokens.c.id == row.id,
                    or_(api_tokens.c.last_used_at.is_(None),
                        api_tokens.c.last_used_at < now - TOUCH_EVERY),
                ).values(last_used_at=now))
        return _token(row)

    def revoke(self, name: str) -> bool:
        """Revoke the live token named ``name``; whether there was one."""
        with self.engine.begin() as conn:
            return bool(conn.execute(update(api_tokens).where(
                api_tokens.c.name == name, api_tokens.c.revoked_at.is_(None),
            ).values(revoked_at=self.clock())).rowcount)

    def all(self) -> list[ApiToken]:
        """Every token, revoked ones too, oldest first."""
        with self.engine.connect() as conn:
            return [_token(r) for r in conn.execute(select(api_tokens).order_by(api_tokens.c.id))]
