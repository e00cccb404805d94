"""Messages with a block of their own per reader (issue 21's "For you"), still built by
splicing into bodies encoded once per variant.

A rendered issue says where the block goes (``RenderedIssue.for_you_at``). Each body is
encoded in two pieces, before and after that place, and only the reader's block is
encoded per message:

- **base64**: the piece before is padded with spaces (before its last line break, where
  HTML and plain text ignore them) to a whole number of 57-byte lines, and so is the
  block; the concatenation is then exactly the base64 of the whole.
- **quoted-printable**: a soft line break (``=`` CRLF, which decodes to nothing) joins the
  pieces, so every encoded line stays within 76 characters.

The tokens are spliced into the pieces as :class:`~newsletter.mail.message.MessageTemplate`
does.
"""

from __future__ import annotations

import binascii
from dataclasses import dataclass

from newsletter.mail.message import (
    _B64_LINE,
    CRLF,
    MessageTemplate,
    RawSlots,
    Recipient,
    Segment,
    Sender,
    Slots,
    _b64_lines,
    _base64_segments,
    _choose_encoding,
    _qp_segments,
)
from newsletter.rendering.renderer import RenderedIssue

HTML_BLOCK = "for-you-html"
TEXT_BLOCK = "for-you-text"


@dataclass(frozen=True)
class PersonalRecipient(Recipient):
    """A recipient with their own block for the HTML and the plain-text part."""

    html_block: str = ""
    text_block: str = ""

    def slots(self) -> dict[str, str]:
        return {**super().slots(), HTML_BLOCK: self.html_block, TEXT_BLOCK: self.text_block}


def _crlf(text: str) -> bytes:
    return text.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8")


def _pad(raw: bytes) -> bytes:
    """``raw`` padded with spaces to a multiple of 57 bytes, before its last line break
    when it has one (trailing spaces on a line show in neither HTML nor plain text)."""
    missing = -len(raw) % _B64_LINE
    if not missing:
        return raw
    at = raw.rfind(CRLF)
    if at < 0:
        return raw + b" " * missing
    return raw[:at] + b" " * missing + raw[at:]


class _PersonalBody:
    """One text part: the pieces before and after the block, encoded once."""

    def __init__(self, content: str, at: int, subtype: str, slot: str) -> None:
        suffix = content[at:]
        if not suffix.endswith("\n"):
            suffix += "\n"
        before, after = _crlf(content[:at]), _crlf(suffix)
        self.slot = slot
        self.encoding = _choose_encoding(before + after)
        header = (
            f'Content-Type: text/{subtype}; charset="utf-8"\r\n'
            f"Content-Transfer-Encoding: {self.encoding}\r\n\r\n"
        ).encode("ascii")
        if self.encoding == "base64":
            first = _base64_segments(_pad(before))
        else:
            first = _qp_segments(before)
            if not before.endswith(b"\n"):
                # _qp_segments ends a body with a line break; the piece goes on instead.
                last = first[-1]
                assert isinstance(last, bytes) and last.endswith(CRLF)
                first[-1] = last[:-2] + b"=" + CRLF
        rest = _base64_segments(after) if self.encoding == "base64" else _qp_segments(after)
        self.segments: list[Segment] = [header, *first, self._block, *rest]

    def _block(self, values: RawSlots) -> bytes:
        raw = values.get(self.slot, b"").replace(b"\r\n", b"\n").replace(b"\n", CRLF)
        if not raw:
            return b""
        if self.encoding == "base64":
            return _b64_lines(_pad(raw))
        encoded = binascii.b2a_qp(raw, istext=True)
        return encoded if encoded.endswith(b"\n") else encoded + b"=" + CRLF

    def fill(self, values: Slots) -> list[bytes]:
        raw = {slot: value.encode("utf-8") for slot, value in values.items()}
        return [s if isinstance(s, bytes) else s(raw) for s in self.segments]


class PersonalTemplate(MessageTemplate):
    """A variant's message with a place for each reader's own block; ``build`` takes a
    :class:`PersonalRecipient`. Raises ``ValueError`` for a rendering with no such place."""

    def __init__(
        self, rendered: RenderedIssue, sender: Sender, campaign: str, subject_prefix: str = ""
    ) -> None:
        if rendered.for_you_at is None:
            raise ValueError(f"variant {rendered.variant.key} has no place for a block")
        super().__init__(rendered, sender, campaign, subject_prefix)
        at_html, at_text = rendered.for_you_at
        self.text = _PersonalBody(rendered.text, at_text, "plain", TEXT_BLOCK)  # type: ignore[assignment]
        self.html = _PersonalBody(rendered.html, at_html, "html", HTML_BLOCK)  # type: ignore[assignment]
