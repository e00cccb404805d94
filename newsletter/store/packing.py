"""Compact stored forms (issue 17: about 300 bytes a delivery with its events): SES's
message ids, the claiming worker, and the JSON payloads of the events kept for good.

Each type reads back exactly what was written; the packed forms are only how the bytes lie.
"""

from __future__ import annotations

import hashlib
import re
import zlib

from sqlalchemy import LargeBinary, TypeDecorator
from sqlalchemy.engine import Dialect


class MessageId(TypeDecorator[str]):
    """SES's message id, kept in half the bytes on every backend.

    SES names a message ``<16 hex>-<UUID>-<6 digits>`` (60 characters); such an id is stored
    as 28 bytes (a marker, the hex digits as bytes, the digits as a 3-byte number), anything
    else as a marker and its UTF-8 bytes. Equal ids are equal bytes, so lookups work as on
    the text; every id reads back as the exact string given.
    """

    impl = LargeBinary
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> bytes | None:
        return None if value is None else pack_message_id(value)

    def process_result_value(self, value: bytes | None, dialect: Dialect) -> str | None:
        return None if value is None else unpack_message_id(bytes(value))


def worker_key(worker_id: str) -> int:
    """How ``deliveries.claimed_by`` names a worker: the first 63 bits of the MD5 of its id,
    a number from 0 to 2**63 - 1 (migration 0014 computes the same in SQL)."""
    digest = hashlib.md5(worker_id.encode("utf-8"), usedforsecurity=False).digest()
    return int.from_bytes(digest[:8], "big") >> 1


_SES_MESSAGE_ID = re.compile(
    r"([0-9a-f]{16})-([0-9a-f]{8})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{12})"
    r"-(\d{6})"
)
_PACKED, _PLAIN = b"\x01", b"\x00"


def pack_message_id(value: str) -> bytes:
    """The stored form of a message id (see :class:`MessageId`)."""
    match = _SES_MESSAGE_ID.fullmatch(value)
    if match is None:
        return _PLAIN + value.encode("utf-8")
    *hexes, digits = match.groups()
    return _PACKED + bytes.fromhex("".join(hexes)) + int(digits).to_bytes(3, "big")


def unpack_message_id(value: bytes) -> str:
    """The message id a stored value was made from."""
    if value[:1] != _PACKED:
        return value[1:].decode("utf-8")
    raw = value[1:25].hex()
    parts = (raw[:16], raw[16:24], raw[24:28], raw[28:32], raw[32:36], raw[36:48])
    return "-".join((*parts, f"{int.from_bytes(value[25:28], 'big'):06d}"))


_COMPRESSED = b"\x01"


class Payload(TypeDecorator[str]):
    """An event's JSON payload, zlib-compressed (a bounce's 1.4 KB become 0.7 KB).

    Stored as a marker byte and the compressed UTF-8; "" as no bytes. Rows written before
    migration 0014 hold the plain text (it begins with "{", never the marker) and read
    back as they are.
    """

    impl = LargeBinary
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> bytes | None:
        return None if value is None else pack_payload(value)

    def process_result_value(self, value: bytes | str | None, dialect: Dialect) -> str | None:
        if value is None or isinstance(value, str):  # SQLite keeps an older row's text
            return value
        return unpack_payload(bytes(value))


def pack_payload(value: str) -> bytes:
    """The stored form of a payload (see :class:`Payload`)."""
    return _COMPRESSED + zlib.compress(value.encode("utf-8"), 6) if value else b""


def unpack_payload(value: bytes) -> str:
    """The payload a stored value was made from."""
    if value[:1] == _COMPRESSED:
        return zlib.decompress(value[1:]).decode("utf-8")
    return value.decode("utf-8")
