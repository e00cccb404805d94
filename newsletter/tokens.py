"""Signed, purpose-bound tokens for confirm, unsubscribe and preferences links.

A token names one subscriber (by id) and is signed with HMAC-SHA256 under a salt
that includes its purpose, so a token for one purpose is refused for another and
cannot be re-targeted at another subscriber. Every token has the same length, which
lets message building splice tokens into pre-encoded bodies (see ``message.py``).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import time
from collections.abc import Sequence
from enum import StrEnum

from itsdangerous import BadSignature, SignatureExpired, TimestampSigner

from newsletter.errors import TokenError

_ID_WIDTH = 12
_SIGNATURE_LENGTH = 22  # 128 bits of HMAC-SHA256, URL-safe base64 without padding
_FULL_SIGNATURE_LENGTH = 43  # all 256 bits: links mailed before signatures were shortened
# 12 hex digits, '.', a 6-character timestamp (until 2106), '.', 22 signature characters.
TOKEN_LENGTH = _ID_WIDTH + 1 + 6 + 1 + _SIGNATURE_LENGTH
CONFIRM_MAX_AGE = 7 * 24 * 3600
# The largest id a token can name. Ids are handed out from 1 upwards and never reach it,
# so tokens for it (test sends, build samples) can never act on a real subscriber.
NO_SUBSCRIBER_ID: int = 16**_ID_WIDTH - 1


class Purpose(StrEnum):
    CONFIRM = "confirm"
    UNSUBSCRIBE = "unsubscribe"
    PREFERENCES = "preferences"
    KEEP = "keep"  # "Keep me subscribed" in the sunset rule's re-engagement email


class _Signer(TimestampSigner):
    # itsdangerous reads time.time() itself; ``now`` lets callers (and tests) pass a clock.
    now: float | None = None
    _derived: bytes | None = None

    def get_timestamp(self) -> int:
        return int(time.time() if self.now is None else self.now)

    def derive_key(self, secret_key: str | bytes | None = None) -> bytes:
        # The signing key derived from the newest secret is the same for every token, so
        # it is derived once per signer (issue #23: a bulk send signs two tokens a reader).
        if secret_key is not None:
            return super().derive_key(secret_key)
        if self._derived is None:
            self._derived = super().derive_key()
        return self._derived


def _signer(secret: str, purpose: Purpose, now: float | None = None) -> _Signer:
    if not secret:
        raise TokenError("no secret key is configured; set NEWSLETTER_SECRET_KEY")
    signer = _Signer(secret, salt=f"newsletter.{purpose.value}", digest_method=hashlib.sha256)
    signer.now = now
    return signer


@functools.lru_cache(maxsize=16)
def _current_signer(secret: str, purpose: Purpose) -> _Signer:
    """One signer per key and purpose for tokens issued now, shared by every thread (its
    ``now`` stays None; a signer is not changed once made)."""
    return _signer(secret, purpose)


def make_token(secret: str, purpose: Purpose, subscriber_id: int, now: float | None = None) -> str:
    """Return a URL-safe token of exactly :data:`TOKEN_LENGTH` characters.

    ``now`` (a POSIX timestamp) is the issue time; the current time when omitted. The
    signature is the first 128 bits of HMAC-SHA256 (a full-length one looks enough like a
    Bitcoin address to trip a SpamAssassin rule now and then).
    """
    if not 0 < subscriber_id < 16**_ID_WIDTH:
        raise ValueError(f"subscriber id out of range: {subscriber_id}")
    signer = _current_signer(secret, purpose) if now is None else _signer(secret, purpose, now)
    full = signer.sign(f"{subscriber_id:0{_ID_WIDTH}x}").decode("ascii")
    token = full[: len(full) - (_FULL_SIGNATURE_LENGTH - _SIGNATURE_LENGTH)]
    assert len(token) == TOKEN_LENGTH, token
    return token


def read_token(
    secret: str,
    purpose: Purpose,
    token: str,
    max_age: int | None = None,
    now: float | None = None,
    fallbacks: Sequence[str] = (),
) -> int:
    """Return the subscriber id in ``token``; see :func:`read_token_issued`."""
    return read_token_issued(secret, purpose, token, max_age, now, fallbacks)[0]


def read_token_issued(
    secret: str,
    purpose: Purpose,
    token: str,
    max_age: int | None = None,
    now: float | None = None,
    fallbacks: Sequence[str] = (),
) -> tuple[int, int]:
    """Return the subscriber id in ``token`` and when it was issued (POSIX seconds); raise
    :class:`TokenError` if it is not valid.

    ``max_age`` (seconds) refuses tokens older than that at ``now`` (a POSIX timestamp,
    the current time when omitted); confirmation links use 7 days. A token signed with
    ``secret`` or with any of the older ``fallbacks`` keys is accepted, with a 128-bit or a
    full-length (older) signature.
    """
    signed, _, signature = token.rpartition(".")
    if len(signature) not in (_SIGNATURE_LENGTH, _FULL_SIGNATURE_LENGTH):
        raise TokenError("this link is not valid")
    for key in (secret, *fallbacks):
        signer = _signer(key, purpose, now)
        # Compared as text, both lengths: decoded to bytes, a full-length signature whose
        # last character differs only in base64's unused low bits would also match.
        expected = signer.get_signature(signed).decode("ascii")
        if not hmac.compare_digest(expected[: len(signature)], signature):
            continue
        signature = expected  # itsdangerous checks the age of a whole token
        try:
            value, issued = signer.unsign(
                f"{signed}.{signature}", max_age=max_age, return_timestamp=True
            )
        except SignatureExpired as err:
            raise TokenError("this link has expired; ask for a new one") from err
        except BadSignature:
            continue
        try:
            return int(value, 16), int(issued.timestamp())
        except ValueError as err:
            raise TokenError("this link is not valid") from err
    raise TokenError("this link is not valid")


def placeholder(purpose: Purpose) -> str:
    """A stand-in of token length, put in rendered issues where a recipient's token goes."""
    stem = f"NLTOKEN{purpose.value.upper()}"
    return stem + "X" * (TOKEN_LENGTH - len(stem))
