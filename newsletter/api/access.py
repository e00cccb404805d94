"""Who calls the API: bearer tokens with a scope, token names, and the scope check."""

from __future__ import annotations

import re
from dataclasses import dataclass

from newsletter.errors import ApiError

SCOPES = ("read", "write")  # write includes read
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


@dataclass(frozen=True)
class Caller:
    """A checked token: its name (for the audit log) and scope."""

    name: str
    scope: str

    @property
    def actor(self) -> str:
        """Who the audit log names."""
        return f"api:{self.name}"

    def require(self, scope: str) -> None:
        """Raise ``ApiError`` (403) unless this token may do what ``scope`` covers."""
        if scope == "write" and self.scope != "write":
            raise ApiError(403, "forbidden", "this token has the read scope; writing needs "
                           "a token made with --scope write")


def check_name(name: str) -> str:
    """A token's name: 1-64 letters, digits, dots, dashes and underscores."""
    if not _NAME.fullmatch(name):
        raise ApiError(422, "invalid", f"{name[:70]!r} is not a token name; use 1-64 letters, "
                       "digits, '.', '-' or '_', starting with a letter or digit")
    return name


def check_scope(scope: str) -> str:
    if scope not in SCOPES:
        raise ApiError(422, "invalid", f"scope must be read or write, not {scope[:20]!r}")
    return scope


def bearer(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer TOKEN`` header, or None."""
    if not header:
        return None
    kind, _, token = header.strip().partition(" ")
    token = token.strip()
    if kind.lower() != "bearer" or not token or len(token) > 200:
        return None
    return token
