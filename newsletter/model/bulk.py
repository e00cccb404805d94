"""A bulk send as plain values: a variant's content once, and one small entry per reader.

``mail.bulk`` builds them from a rendered variant; ``transports.ses_bulk`` turns them into
one SES ``SendBulkEmail`` call. Header values are single-line printable ASCII (already
RFC 2047-encoded where needed), as SES requires of template and replacement headers.
"""

from __future__ import annotations

from dataclasses import dataclass

Pairs = tuple[tuple[str, str], ...]


@dataclass(frozen=True, eq=False)
class BulkContent:
    """One variant's message as an inline template (``{{{name}}}`` marks per-reader data).

    ``headers`` go on every message; ``defaults`` is the template data every entry shares
    (the literal ``{{`` of escaped content, when the content has one).
    """

    from_address: str
    subject: str
    text: str
    html: str
    headers: Pairs
    defaults: str = "{}"


@dataclass(frozen=True)
class BulkEntry:
    """One reader of a bulk call: the address, the template data (a JSON object), the
    headers that replace or join the template's, and the message's tags."""

    to: str
    data: str
    headers: Pairs
    tags: Pairs
