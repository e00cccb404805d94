"""RenderedIssue + recipient -> MIME bytes. Pure: no I/O.

The fast path encodes each variant's bodies once (``MessageTemplate``) and, per recipient,
splices only that recipient's pieces into the pre-encoded bytes: the headers that name
the recipient, and the unsubscribe and preferences tokens. Tokens have a fixed length
(``tokens.TOKEN_LENGTH``), so a token replaces its placeholder byte for byte; in a
base64 body only the 57-byte lines that hold a placeholder are encoded again, in a
quoted-printable body the token's characters are written around the soft line breaks.

``build_reference_message`` builds the same message with ``email.message.EmailMessage``;
tests check that both parse to the same content, and the benchmark compares their speed.
"""

from __future__ import annotations

import binascii
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.header import Header
from email.message import EmailMessage
from email.utils import formataddr, parseaddr

from newsletter.errors import HeaderInjectionError
from newsletter.rendering.renderer import RenderedIssue
from newsletter.tokens import TOKEN_LENGTH, Purpose, placeholder

CRLF = b"\r\n"
_B64_LINE = 57  # raw bytes per 76-character base64 line
_MERGE_GAP = 8  # clean lines between two holes that still share one run
Slots = Mapping[str, str]
# The same values encoded (UTF-8; tokens are ASCII), once per part of a message.
RawSlots = Mapping[str, bytes]
SLOT_PLACEHOLDERS = {p.value: placeholder(p) for p in (Purpose.UNSUBSCRIBE, Purpose.PREFERENCES)}


@dataclass(frozen=True)
class Sender:
    """Who the newsletter is from, and the list headers every message carries."""

    from_address: str
    base_url: str
    list_id: str
    reply_to: str | None = None
    unsubscribe_mailto: str | None = None

    @property
    def domain(self) -> str:
        address = parseaddr(self.from_address)[1]
        return address.rpartition("@")[2] or "localhost"

    def unsubscribe_url(self, token: str) -> str:
        return f"{self.base_url.rstrip('/')}/unsubscribe/{token}"


@dataclass(frozen=True)
class Recipient:
    """One reader of one message. ``delivery_id`` is ours; SES replaces Message-ID."""

    address: str
    delivery_id: str
    unsubscribe_token: str
    preferences_token: str

    def slots(self) -> dict[str, str]:
        return {
            Purpose.UNSUBSCRIBE.value: self.unsubscribe_token,
            Purpose.PREFERENCES.value: self.preferences_token,
        }


# Characters allowed in the dot-atom of a Message-ID's left part (RFC 5322 atext, and dots).
_NOT_ATEXT = re.compile(r"[^A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]")


def message_id(delivery_id: str, domain: str) -> str:
    """A Message-ID unique to this message: random, then our delivery id made RFC-valid.

    The random part keeps ids unique across test sends, resends and databases that were
    reset (mail providers drop a message whose Message-ID they have already seen).
    """
    local = re.sub(r"\.{2,}", ".", _NOT_ATEXT.sub("-", delivery_id)).strip(".") or "m"
    return f"<{secrets.token_hex(8)}.{local}@{domain}>"


def check_header(name: str, value: str) -> str:
    """Refuse a header value with CR or LF (header injection); return it unchanged."""
    if "\r" in value or "\n" in value:
        raise HeaderInjectionError(f"{name} contains a line break: {value!r}")
    return value


def encode_header(value: str) -> str:
    """RFC 2047-encode (when needed) and fold a header value."""
    check_header("header", value)
    if value.isascii():
        return value
    return Header(value, "utf-8", header_name="Subject").encode(linesep="\r\n")


def encode_address(address: str) -> str:
    """``Name <addr>`` with the display name encoded per RFC 2047."""
    check_header("address", address)
    name, addr = parseaddr(address)
    if not addr or "@" not in addr:
        raise HeaderInjectionError(f"not an email address: {address!r}")
    return formataddr((name, addr), charset="utf-8") if name else addr


def _choose_encoding(raw: bytes) -> str:
    """base64 or quoted-printable, whichever is smaller for this body (never 8bit)."""
    b64 = (len(raw) + _B64_LINE - 1) // _B64_LINE * 78
    qp = len(binascii.b2a_qp(raw, istext=True))
    return "quoted-printable" if qp <= b64 else "base64"


Segment = bytes | Callable[[RawSlots], bytes]


def _base64_segments(raw: bytes) -> list[Segment]:
    spans = _find_slots(raw)
    lines: dict[int, list[tuple[int, str]]] = {}
    for start, slot in spans:
        for line in range(start // _B64_LINE, (start + TOKEN_LENGTH - 1) // _B64_LINE + 1):
            lines.setdefault(line, [])
        lines[start // _B64_LINE].append((start, slot))
    segments: list[Segment] = []
    done = 0  # next raw line not yet emitted
    affected = sorted(lines)
    groups: list[tuple[int, int]] = []  # merged runs of nearby affected lines
    for line in affected:
        # A few clean lines between two holes are encoded again with them: cheaper than
        # a run of its own (a paper's two feedback links are a few lines apart).
        if groups and line - groups[-1][1] <= _MERGE_GAP:
            groups[-1] = (groups[-1][0], line + 1)
        else:
            groups.append((line, line + 1))
    for first, end in groups:
        segments.append(_b64_lines(raw[done * _B64_LINE : first * _B64_LINE]))
        chunk = raw[first * _B64_LINE : end * _B64_LINE]
        holes = [(s - first * _B64_LINE, slot) for s, slot in spans
                 if first * _B64_LINE <= s < end * _B64_LINE]
        segments.append(_b64_patcher(chunk, holes))
        done = end
    segments.append(_b64_lines(raw[done * _B64_LINE :]))
    return segments


def _b64_lines(raw: bytes) -> bytes:
    return b"".join(
        binascii.b2a_base64(raw[i : i + _B64_LINE], newline=False) + CRLF
        for i in range(0, len(raw), _B64_LINE)
    )


def _b64_patcher(chunk: bytes, holes: list[tuple[int, str]]) -> Callable[[RawSlots], bytes]:
    # The bytes around the holes are cut once; per message the tokens go between them and
    # the run is encoded in one call (57-byte lines are 76 characters, so cutting the
    # encoded run every 76 gives the same lines). Issue 21 puts a token in every paper's
    # feedback links, so a message has dozens of these runs: this is the hot path.
    pieces, at = [], 0
    for offset, _slot in holes:
        pieces.append(chunk[at:offset])
        at = offset + TOKEN_LENGTH
    tail = chunk[at:]
    slots = [slot for _offset, slot in holes]
    width = _B64_LINE // 3 * 4

    def patch(values: RawSlots) -> bytes:
        parts: list[bytes] = []
        for piece, slot in zip(pieces, slots, strict=True):
            parts.append(piece)
            parts.append(values[slot])
        parts.append(tail)
        encoded = binascii.b2a_base64(b"".join(parts), newline=False)
        if len(encoded) <= width:
            return encoded + CRLF
        return CRLF.join([encoded[i : i + width] for i in range(0, len(encoded), width)]) + CRLF

    return patch


def _find_slots(raw: bytes) -> list[tuple[int, str]]:
    found = []
    for slot, marker in SLOT_PLACEHOLDERS.items():
        found += [(m.start(), slot) for m in re.finditer(re.escape(marker.encode()), raw)]
    return sorted(found)


def _qp_segments(raw: bytes) -> list[Segment]:
    encoded = binascii.b2a_qp(raw, istext=True)
    if not encoded.endswith(b"\n"):
        encoded += CRLF
    spans: list[tuple[int, int, str]] = []
    for slot, marker in SLOT_PLACEHOLDERS.items():
        # A soft line break ("=" CRLF) may fall anywhere inside the placeholder.
        pattern = b"(?:=\r\n)?".join(re.escape(bytes([c])) for c in marker.encode())
        spans += [(m.start(), m.end(), slot) for m in re.finditer(pattern, encoded)]
    segments: list[Segment] = []
    done = 0
    for start, end, slot in sorted(spans):
        segments.append(encoded[done:start])
        pieces = [len(p) for p in encoded[start:end].split(b"=\r\n")]
        segments.append(_qp_patcher(pieces, slot))
        done = end
    segments.append(encoded[done:])
    return segments


def _qp_patcher(pieces: list[int], slot: str) -> Callable[[RawSlots], bytes]:
    if len(pieces) == 1:  # no soft line break inside: the token as it is
        return lambda values: values[slot]

    def patch(values: RawSlots) -> bytes:
        value = values[slot]
        out, at = [], 0
        for size in pieces:
            out.append(value[at : at + size])
            at += size
        return b"=\r\n".join(out)

    return patch


class _Body:
    """One text part, encoded once, with the recipient's tokens spliced in per message."""

    def __init__(self, content: str, subtype: str) -> None:
        # Text parts end with a line break, as EmailMessage.set_content writes them.
        if not content.endswith("\n"):
            content += "\n"
        raw = content.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8")
        self.encoding = _choose_encoding(raw)
        header = (
            f'Content-Type: text/{subtype}; charset="utf-8"\r\n'
            f"Content-Transfer-Encoding: {self.encoding}\r\n\r\n"
        ).encode("ascii")
        body = _base64_segments(raw) if self.encoding == "base64" else _qp_segments(raw)
        self.segments: list[Segment] = [header, *body]

    def fill(self, values: Slots) -> list[bytes]:
        raw = {slot: value.encode("utf-8") for slot, value in values.items()}
        return [s if isinstance(s, bytes) else s(raw) for s in self.segments]


class MessageTemplate:
    """A variant's message with everything but the recipient done; ``build`` is the fast path."""

    def __init__(
        self, rendered: RenderedIssue, sender: Sender, campaign: str, subject_prefix: str = "",
        extra_headers: tuple[tuple[str, str], ...] = (),
    ) -> None:
        self.rendered = rendered
        self.sender = sender
        self.domain = sender.domain  # parsed once: parseaddr per message was a hot spot
        self.boundary = f"==nl_{secrets.token_hex(12)}"
        subject = subject_prefix + rendered.subject
        # No Feedback-ID: SES writes its own over ours. Gmail's feedback loop reads SES's,
        # and the campaign travels as SES message tags (sending/engine.py).
        fixed = [
            ("From", encode_address(sender.from_address)),
            ("Subject", encode_header(subject)),
            ("MIME-Version", "1.0"),
            ("List-Id", encode_header(check_header("List-Id", sender.list_id))),
            ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
        ]
        if sender.reply_to:
            fixed.append(("Reply-To", encode_address(sender.reply_to)))
        fixed += [(name, encode_header(check_header(name, value))) for name, value in extra_headers]
        fixed.append(
            ("Content-Type", f'multipart/alternative;\r\n boundary="{self.boundary}"')
        )
        self.fixed_headers = "".join(f"{k}: {v}\r\n" for k, v in fixed).encode("ascii")
        self.mailto = (
            f", <mailto:{check_header('mailto', sender.unsubscribe_mailto)}?subject=unsubscribe>"
            if sender.unsubscribe_mailto else ""
        )
        self.text = _Body(rendered.text, "plain")
        self.html = _Body(rendered.html, "html")
        self.delimiter = f"\r\n--{self.boundary}\r\n".encode("ascii")
        self.close = f"\r\n--{self.boundary}--\r\n".encode("ascii")

    def build(self, recipient: Recipient, date: str) -> bytes:
        """The complete RFC 5322 message for one recipient; ``date`` is an RFC 5322 date."""
        to = check_header("To", recipient.address)
        if not to.isascii():
            raise HeaderInjectionError(
                f"{to!r} needs SMTPUTF8, which this sender does not use; store its ASCII form"
            )
        delivery_id = check_header("X-Newsletter-Delivery", recipient.delivery_id)
        unsubscribe = self.sender.unsubscribe_url(recipient.unsubscribe_token)
        head = (
            f"To: {to}\r\nDate: {date}\r\n"
            f"Message-ID: {message_id(delivery_id, self.domain)}\r\n"
            f"X-Newsletter-Delivery: {delivery_id}\r\n"
            f"List-Unsubscribe: <{unsubscribe}>{self.mailto}\r\n"
        ).encode("ascii")
        values = recipient.slots()
        return b"".join(
            [
                head,
                self.fixed_headers,
                b"\r\n",
                self.delimiter[2:],
                *self.text.fill(values),
                self.delimiter,
                *self.html.fill(values),
                self.close,
            ]
        )


def fill_slots(content: str, recipient: Recipient) -> str:
    """Replace placeholders in a rendered string (the slow, obvious way)."""
    for slot, value in recipient.slots().items():
        content = content.replace(SLOT_PLACEHOLDERS[slot], value)
    return content


def build_reference_message(
    rendered: RenderedIssue,
    sender: Sender,
    campaign: str,
    recipient: Recipient,
    date: str,
    subject_prefix: str = "",
) -> bytes:
    """The same message built with ``email.message.EmailMessage``: slow, obviously right."""
    msg = EmailMessage()
    msg["From"] = sender.from_address
    msg["To"] = recipient.address
    msg["Subject"] = subject_prefix + rendered.subject
    msg["Date"] = date
    msg["Message-ID"] = message_id(recipient.delivery_id, sender.domain)
    msg["X-Newsletter-Delivery"] = recipient.delivery_id
    mailto = (
        f", <mailto:{sender.unsubscribe_mailto}?subject=unsubscribe>"
        if sender.unsubscribe_mailto else ""
    )
    msg["List-Unsubscribe"] = f"<{sender.unsubscribe_url(recipient.unsubscribe_token)}>{mailto}"
    msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg["List-Id"] = sender.list_id
    if sender.reply_to:
        msg["Reply-To"] = sender.reply_to
    msg.set_content(fill_slots(rendered.text, recipient), subtype="plain", charset="utf-8")
    msg.add_alternative(fill_slots(rendered.html, recipient), subtype="html", charset="utf-8")
    return msg.as_bytes()
