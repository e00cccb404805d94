"""Signed, purpose-bound tokens for confirm, unsubscribe and preferences links.

A token names one subscriber (by id) and is signed with HMAC-SHA256 under a salt
that includes its purpose, so a token for one purpose is refused for another and
cannot be re-targeted at another subscriber. Every token has the same length, which
lets message building splice tokens into pre-encoded bodies (see ``message.py``).
"""

from __future__ import annotations

import hashlib
from enum import StrEnum

from itsdangerous import BadSignature, SignatureExpired, TimestampSigner

from newsletter.errors import TokenError

_ID_WIDTH = 12
# 12 hex digits, '.', a 6-character timestamp (until 2106), '.', 43 characters of SHA-256.
TOKEN_LENGTH = _ID_WIDTH + 1 + 6 + 1 + 43
CONFIRM_MAX_AGE = 7 * 24 * 3600


class Purpose(StrEnum):
    CONFIRM = "confirm"
    UNSUBSCRIBE = "unsubscribe"
    PREFERENCES = "preferences"


def _signer(secret: str, purpose: Purpose) -> TimestampSigner:
    if not secret:
        raise TokenError("no secret key is configured; set NEWSLETTER_SECRET_KEY")
    return TimestampSigner(secret, salt=f"newsletter.{purpose.value}", digest_method=hashlib.sha256)


def make_token(secret: str, purpose: Purpose, subscriber_id: int) -> str:
    """Return a URL-safe token of exactly :data:`TOKEN_LENGTH` characters."""
    if not 0 < subscriber_id < 16**_ID_WIDTH:
        raise ValueError(f"subscriber id out of range: {subscriber_id}")
    token = _signer(secret, purpose).sign(f"{subscriber_id:0{_ID_WIDTH}x}").decode("ascii")
    assert len(token) == TOKEN_LENGTH, token
    return token


def read_token(secret: str, purpose: Purpose, token: str, max_age: int | None = None) -> int:
    """Return the subscriber id in ``token``; raise :class:`TokenError` if it is not valid.

    ``max_age`` (seconds) refuses tokens older than that; confirmation links use 7 days.
    """
    try:
        value = _signer(secret, purpose).unsign(token, max_age=max_age)
    except SignatureExpired as err:
        raise TokenError("this link has expired; ask for a new one") from err
    except BadSignature as err:
        raise TokenError("this link is not valid") from err
    try:
        return int(value, 16)
    except ValueError as err:
        raise TokenError("this link is not valid") from err


def placeholder(purpose: Purpose) -> str:
    """A stand-in of token length, put in rendered issues where a recipient's token goes."""
    stem = f"NLTOKEN{purpose.value.upper()}"
    return stem + "X" * (TOKEN_LENGTH - len(stem))
