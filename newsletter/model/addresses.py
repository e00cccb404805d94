"""Email addresses: the one place they are checked, normalised and hashed."""

from __future__ import annotations

import hashlib

from email_validator import EmailNotValidError, validate_email

from newsletter.errors import InvalidAddressError


def normalize_email(raw: str) -> str:
    """The canonical form of ``raw``: ASCII, lower-cased, internationalised domains as punycode.

    The whole address is lower-cased, not only the domain: mailbox providers treat local parts
    case-insensitively in practice, and a second spelling must not slip past a suppression.
    Local parts with non-ASCII characters are refused because we do not send with SMTPUTF8.
    No DNS lookup is made. Raises :class:`InvalidAddressError` with a readable reason.
    """
    candidate = raw.strip()
    if not candidate:
        raise InvalidAddressError("the email address is empty")
    try:
        checked = validate_email(candidate, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as error:
        raise InvalidAddressError(f"{candidate!r} is not a valid email address: {error}") from None
    # ``ascii_email`` is set whenever SMTPUTF8 is not needed, which allow_smtputf8=False ensures.
    ascii_email = checked.ascii_email or checked.normalized
    return ascii_email.lower()


def email_hash(email: str) -> str:
    """The SHA-256 hex digest of ``email``: what a suppression keeps after erasure.

    ``email`` must already be normalised (see :func:`normalize_email`), or two spellings of
    one address would hash differently.
    """
    return hashlib.sha256(email.encode("utf-8")).hexdigest()
