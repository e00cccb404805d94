"""A rendered variant as an SES inline template, and each reader's entry of a bulk call.

SES renders templates with Handlebars: ``{{{name}}}`` is replaced by the template data's
value as it is (``{{name}}`` would HTML-escape it), and a ``{{`` that is not ours would be
read as a placeholder or a helper. So the content is written into the template with:

- each reader's link tokens (their fixed-length placeholders in the rendered parts) as
  ``{{{u}}}`` (unsubscribe) and ``{{{p}}}`` (preferences);
- every literal ``{{`` as ``{{{lb}}}``, whose value is ``{{`` (a title or an abstract may
  contain one; it reaches readers as written);
- a backslash just before a placeholder as ``{{{bs}}}`` (value ``\\``): Handlebars.js
  reads ``\\{{`` as an escaped placeholder, other implementations do not, so no
  placeholder we write ever follows a backslash;
- with ``blocks`` (a campaign in which readers have follows, issue 21), the place of the
  reader's "For you" block as ``{{{fh}}}`` in the HTML and ``{{{ft}}}`` in the text: each
  entry's data holds its block, HTML already escaped where it quotes the reader's words,
  inserted as it is (triple braces: neither part is HTML-escaped again, and a value is
  never read as a template, so a ``{{`` in it reaches the reader as written).

The headers every reader's copy shares (those ``mail.message.MessageTemplate`` writes
once per variant: List-Id, List-Unsubscribe-Post, Reply-To, and whatever it
adds later) are template headers; the two that name the reader (List-Unsubscribe,
X-Newsletter-Delivery) are replacement headers of the reader's entry.
``tests/unit/sending/test_bulk_same_message.py`` checks that a reader's message parses
the same as the one ``mail.message`` builds for the single-message path.
"""

from __future__ import annotations

import json
import re

from newsletter.errors import HeaderInjectionError
from newsletter.mail.message import (
    SLOT_PLACEHOLDERS,
    MessageTemplate,
    Recipient,
    Sender,
    check_header,
)
from newsletter.model.bulk import BulkContent, BulkEntry, Pairs
from newsletter.rendering.renderer import RenderedIssue

# Template data keys: short, as each entry carries them.
SLOT_KEYS = {"unsubscribe": "u", "preferences": "p"}
LITERAL_OPEN = "lb"
BACKSLASH = "bs"
LITERALS = {LITERAL_OPEN: "{{", BACKSLASH: "\\"}
BLOCK_KEYS = ("fh", "ft")  # the reader's "For you" block: HTML, text
_SPECIAL = re.compile(
    "|".join([re.escape("{{"), *(re.escape(p) for p in SLOT_PLACEHOLDERS.values())])
)
_BY_PLACEHOLDER = {marker: SLOT_KEYS[slot] for slot, marker in SLOT_PLACEHOLDERS.items()}


def to_template(content: str) -> tuple[str, bool]:
    """``content`` as Handlebars template text, and whether it needs ``LITERALS`` as data."""
    out: list[str] = []
    done = 0
    literal = False
    for match in _SPECIAL.finditer(content):
        before = content[done : match.start()]
        run = len(before) - len(before.rstrip("\\"))
        if run:
            # Backslashes just before a placeholder would escape it (Handlebars.js) or stay
            # (other implementations): written as data, they mean the same in every one.
            literal = True
            before = before[: len(before) - run] + ("{{{" + BACKSLASH + "}}}") * run
        out.append(before)
        found = match.group()
        if found == "{{":
            literal = True
            out.append("{{{" + LITERAL_OPEN + "}}}")
        else:
            out.append("{{{" + _BY_PLACEHOLDER[found] + "}}}")
        done = match.end()
    out.append(content[done:])
    return "".join(out), literal


def with_block(content: str, at: int | None, key: str) -> tuple[str, bool]:
    """``content`` as template text (``to_template``) with ``{{{key}}}`` at offset ``at``
    (None: no block). Raises ``ValueError`` when a neighbour of the place would join the
    placeholder (a ``{``, ``}`` or backslash): the place is our templates' choice."""
    if at is None:
        return to_template(content)
    before, after = content[:at], content[at:]
    if before.endswith(("{", "\\")) or after.startswith("}"):
        raise ValueError(f"the block's place at {at} touches template syntax: "
                         f"{content[max(0, at - 10):at + 10]!r}")
    (head, lit_head), (tail, lit_tail) = to_template(before), to_template(after)
    return head + "{{{" + key + "}}}" + tail, lit_head or lit_tail


def one_line(value: str) -> str:
    """A header value as SES takes it in a template: RFC 2047-encoded, never folded."""
    return re.sub(r"\r\n[ \t]+", " ", value)


# Headers SES writes itself from the call (the From address, the subject, the MIME parts).
SES_MADE = frozenset({"from", "subject", "mime-version", "content-type"})


def shared_headers(template: MessageTemplate) -> Pairs:
    """The headers a single-path message of ``template`` gives every reader, unfolded."""
    block = template.fixed_headers.decode("ascii")
    lines = re.split(r"\r\n(?![ \t])", block.rstrip("\r\n"))
    return tuple((name, one_line(value.strip())) for name, _, value in
                 (line.partition(":") for line in lines))


class BulkTemplate:
    """One variant's ``BulkContent`` (built once) and each reader's ``BulkEntry``."""

    def __init__(
        self, rendered: RenderedIssue, sender: Sender, campaign: str,
        single: MessageTemplate | None = None, *, blocks: bool = False,
    ) -> None:
        self.sender = sender
        at_html, at_text = rendered.for_you_at if blocks and rendered.for_you_at else (None, None)
        self.blocks = at_html is not None
        subject, lit_subject = to_template(rendered.subject)
        text, lit_text = with_block(
            rendered.text if rendered.text.endswith("\n") else rendered.text + "\n",
            at_text, BLOCK_KEYS[1],
        )
        html, lit_html = with_block(rendered.html, at_html, BLOCK_KEYS[0])
        self.literal = lit_subject or lit_text or lit_html
        # The headers every copy shares are the single path's, as it encodes them: a header
        # added there reaches bulk readers too.
        shared = shared_headers(single or MessageTemplate(rendered, sender, campaign))
        headers = [(name, value) for name, value in shared if name.lower() not in SES_MADE]
        self.content = BulkContent(
            from_address=dict(shared)["From"],
            subject=subject,
            text=text,
            html=html,
            headers=tuple(headers),
            defaults=json.dumps(LITERALS) if self.literal else "{}",
        )
        self.mailto = (
            f", <mailto:{check_header('mailto', sender.unsubscribe_mailto)}?subject=unsubscribe>"
            if sender.unsubscribe_mailto else ""
        )

    def entry(
        self, recipient: Recipient, tags: Pairs = (), block: tuple[str, str] = ("", "")
    ) -> BulkEntry:
        """The reader's entry: address, tokens (and with ``blocks`` the reader's (html,
        text) "For you" block) as template data, the headers naming them."""
        to = check_header("To", recipient.address)
        if not to.isascii():
            raise HeaderInjectionError(
                f"{to!r} needs SMTPUTF8, which this sender does not use; store its ASCII form"
            )
        delivery_id = check_header("X-Newsletter-Delivery", recipient.delivery_id)
        unsubscribe = self.sender.unsubscribe_url(recipient.unsubscribe_token)
        data = {"u": recipient.unsubscribe_token, "p": recipient.preferences_token}
        if self.blocks:
            # Every key the template names, empty for a reader without a block.
            data.update(zip(BLOCK_KEYS, block, strict=True))
        if self.literal:
            # Entries' data replaces the template's, so the literals go in each.
            data.update(LITERALS)
        headers: Pairs = (
            ("List-Unsubscribe", f"<{unsubscribe}>{self.mailto}"),
            ("X-Newsletter-Delivery", delivery_id),
        )
        return BulkEntry(to, json.dumps(data, separators=(",", ":")), headers, tags)
