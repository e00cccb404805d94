"""Messages with each reader's own "For you" block (issue 21): spliced into bodies encoded
once per variant, and exactly what the slow, obvious way gives."""

from __future__ import annotations

import binascii
import email
import email.policy
from email.message import EmailMessage

import pytest
from support.env import SAMPLE_ISSUE

from newsletter.issues.loader import load_issue
from newsletter.mail.message import Recipient, Sender, fill_slots
from newsletter.mail.personal import PersonalRecipient, PersonalTemplate
from newsletter.rendering.for_you_parts import render_for_you
from newsletter.rendering.renderer import Renderer
from newsletter.tokens import Purpose, make_token
from newsletter.vocabulary import Variant

SENDER = Sender("AI Digest <digest@example.org>", "https://news.example.org", "digest.example.org")
SECRET = "test-secret-key-070e317f7717c7082cd5db78"


def _recipient(n: int, html: str, text: str) -> PersonalRecipient:
    return PersonalRecipient(
        address=f"r{n}@example.org", delivery_id=f"1.{n}",
        unsubscribe_token=make_token(SECRET, Purpose.UNSUBSCRIBE, n),
        preferences_token=make_token(SECRET, Purpose.PREFERENCES, n),
        html_block=html, text_block=text)


def _parts(raw: bytes) -> dict[str, tuple[str, str]]:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    found = {}
    for part in message.iter_parts():
        assert isinstance(part, EmailMessage)
        found[part.get_content_type()] = (
            str(part["Content-Transfer-Encoding"]), part.get_content().replace("\r\n", "\n"))
        # Every encoded line keeps within the 78 characters RFC 5322 allows.
        assert max(len(line) for line in part.get_payload().split("\n")) <= 78
    return found


@pytest.mark.parametrize(("language", "encoding"), [("zh", "base64"), ("en", "quoted-printable")])
def test_each_readers_block_is_spliced_exactly(language: str, encoding: str) -> None:
    """For a base64 (Chinese) and a quoted-printable (English) body: the decoded parts are
    the variant's rendering with the reader's block where the templates put it and the
    reader's tokens; blocks of any length, empty ones too, and hostile names escaped."""
    issue = load_issue(SAMPLE_ISSUE)
    renderer = Renderer("https://news.example.org")
    variant = Variant(language)
    rendered = renderer.render(issue, variant)
    assert rendered.for_you_at is not None
    template = PersonalTemplate(rendered, SENDER, "2022-09-07")
    parts = render_for_you(renderer, issue, variant)
    ids = list(parts.papers)
    choices: list[list[tuple[str, list[str]]]] = [
        [], [(ids[0], ["diffusion"])], [(ids[1], ["<script>x</script>", "扩散模型"]),
                                        (ids[4], ["author:Kaiming He" * 3])],
        [(i, ["k" * n]) for n, i in enumerate(ids)],
    ]
    at_html, at_text = rendered.for_you_at
    for n, chosen in enumerate(choices, start=1):
        html, text = parts.block(chosen)
        recipient = _recipient(n, html, text)
        got = _parts(template.build(recipient, "Wed, 07 Sep 2022 06:00:00 +0000"))
        plain = Recipient(recipient.address, recipient.delivery_id,
                          recipient.unsubscribe_token, recipient.preferences_token)
        want_html = fill_slots(rendered.html[:at_html] + html + rendered.html[at_html:], plain)
        want_text = fill_slots(rendered.text[:at_text] + text + rendered.text[at_text:], plain)
        assert got["text/html"][0] == got["text/plain"][0] == encoding
        # base64 pads the piece before the block and the block with spaces, where neither
        # HTML nor plain text shows them; nothing else differs.
        assert _squeeze(got["text/html"][1]) == _squeeze(want_html.rstrip("\n") + "\n")
        assert _squeeze(got["text/plain"][1]) == _squeeze(want_text.rstrip("\n") + "\n")
        assert "<script>x" not in got["text/html"][1]
        if chosen:
            assert "&lt;script&gt;x&lt;/script&gt;" in got["text/html"][1] or n != 3
            assert chosen[0][0] in got["text/plain"][1]


def _squeeze(text: str) -> str:
    return "\n".join(line.rstrip(" ") for line in text.split("\n"))


def test_quoted_printable_pieces_join_with_soft_breaks() -> None:
    """A block in a quoted-printable body starts and ends on lines of its own, joined by
    soft line breaks, so decoding gives back the text with nothing added."""
    issue = load_issue(SAMPLE_ISSUE)
    rendered = Renderer("https://news.example.org").render(issue, Variant("en"))
    template = PersonalTemplate(rendered, SENDER, "2022-09-07")
    raw = template.build(_recipient(1, "<p>BLOCK</p>", "BLOCK\n"),
                         "Wed, 07 Sep 2022 06:00:00 +0000")
    html_part = raw.split(b"Content-Type: text/html")[1]
    assert b"=\r\n<p>BLOCK</p>=\r\n" in html_part
    body = html_part.split(b"\r\n\r\n", 1)[1].rsplit(b"\r\n--", 1)[0]
    assert b"<p>BLOCK</p>" in binascii.a2b_qp(body)
