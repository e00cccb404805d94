"""The sample .eml from `newsletter build`, and the fast message path against the reference."""

from __future__ import annotations

import email
import email.policy
import re
from email.message import EmailMessage
from pathlib import Path

import pytest
from typer.testing import CliRunner

from newsletter import wiring
from newsletter.cli.main import app
from newsletter.editing.build import SAMPLE_READER
from newsletter.errors import HeaderInjectionError
from newsletter.issues.loader import load_issue
from newsletter.mail.message import MessageTemplate, Recipient, Sender, build_reference_message
from newsletter.rendering.renderer import Renderer
from newsletter.settings import get_settings
from newsletter.tokens import NO_SUBSCRIBER_ID, Purpose, make_token, placeholder, read_token
from newsletter.vocabulary import LANGUAGES, Language, Variant

REQUIRED = ("From", "To", "Subject", "Date", "Message-ID", "List-Unsubscribe",
            "List-Unsubscribe-Post", "List-Id")
DATE = "Wed, 07 Sep 2022 06:00:00 +0000"
TEST_SECRET = "test-secret-key-070e317f7717c7082cd5db78"  # the key conftest puts in the environment


def parse(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def parts(message: EmailMessage) -> dict[str, str]:
    """The decoded text of each alternative, by content type, with LF line ends."""
    out = {}
    for part in message.iter_parts():
        assert isinstance(part, EmailMessage)
        out[part.get_content_type()] = part.get_content().replace("\r\n", "\n")
    return out


@pytest.fixture
def eml(sample_issue_path: Path, tmp_path: Path) -> bytes:
    result = CliRunner().invoke(app, ["build", str(sample_issue_path), "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    return (tmp_path / "2022-09-07.eml").read_bytes()


ISSUED = 1_662_530_400.0  # tokens are issued at a fixed time, so every call makes the same one


def reader(n: int = 7) -> Recipient:
    return Recipient(
        address=f"reader{n}@example.com",
        delivery_id=f"d{n}.2022-09-07",
        unsubscribe_token=make_token(TEST_SECRET, Purpose.UNSUBSCRIBE, n, now=ISSUED),
        preferences_token=make_token(TEST_SECRET, Purpose.PREFERENCES, n, now=ISSUED),
    )


def test_eml_is_multipart_alternative_in_utf8(eml: bytes) -> None:
    """The .eml parses as multipart/alternative with a UTF-8 text and HTML part, never 8bit."""
    message = parse(eml)
    assert message.get_content_type() == "multipart/alternative"
    assert not message.defects
    kinds = []
    for part in message.iter_parts():
        assert isinstance(part, EmailMessage)
        kinds.append(part.get_content_type())
        assert part.get_content_charset() == "utf-8"
        assert part["Content-Transfer-Encoding"] in ("quoted-printable", "base64")
        assert not part.defects
    assert kinds == ["text/plain", "text/html"]  # the last alternative is the preferred one
    assert eml.isascii()  # 7-bit clean on the wire


def test_eml_lines_are_short_and_end_in_crlf(eml: bytes) -> None:
    """No line is longer than 998 bytes (RFC 5322) and every line ends in CRLF."""
    lines = eml.split(b"\r\n")
    assert max(len(line) for line in lines) <= 998
    assert b"\n" not in b"".join(lines) and b"\r" not in b"".join(lines)


def test_eml_has_every_header(eml: bytes, sample_issue_path: Path) -> None:
    """From, To, Subject, Date, Message-ID and the list headers are all there and well formed."""
    message = parse(eml)
    for name in REQUIRED:
        assert len(message.get_all(name) or []) == 1, name
    assert message["To"] == SAMPLE_READER
    # The sample's title as written, with ordinary spaces.
    assert message["Subject"] == load_issue(sample_issue_path).title
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["List-Id"] == get_settings().list_id
    assert str(message["Message-ID"]).startswith("<") and str(message["Message-ID"]).endswith(">")
    assert message["Date"].datetime is not None
    # SES replaces a Feedback-ID with its own; the campaign goes as SES message tags.
    assert "Feedback-ID" not in message


def test_eml_links_carry_working_tokens(eml: bytes) -> None:
    """The unsubscribe header and the links in both parts hold real tokens, not placeholders."""
    message = parse(eml)
    base = "https://news.example.org/unsubscribe/"
    header = str(message["List-Unsubscribe"])
    assert header.startswith(f"<{base}")
    token = header[len(base) + 1 :].split(">")[0]
    assert read_token(TEST_SECRET, Purpose.UNSUBSCRIBE, token) == NO_SUBSCRIBER_ID
    for content in parts(message).values():
        assert "NLTOKEN" not in content
        assert f"{base}{token}" in content


def test_eml_bodies_are_the_rendered_issue(eml: bytes, sample_issue_path: Path) -> None:
    """Decoded, the two parts are the rendered text and HTML with the tokens filled in."""
    rendered = Renderer("https://news.example.org").render(load_issue(sample_issue_path))
    bodies = parts(parse(eml))
    tokens = {
        purpose: re.findall(rf"/{purpose.value}/([\w.-]+)", bodies["text/plain"])
        for purpose in (Purpose.UNSUBSCRIBE, Purpose.PREFERENCES)
    }
    # A text part always ends with a line break, as EmailMessage.set_content writes it.
    expected = {"text/plain": rendered.text, "text/html": rendered.html + "\n"}
    for purpose, [token] in tokens.items():
        assert read_token(TEST_SECRET, purpose, token) == NO_SUBSCRIBER_ID
        for kind in expected:
            expected[kind] = expected[kind].replace(placeholder(purpose), token)
    assert bodies == expected


@pytest.mark.parametrize("language", LANGUAGES)
def test_fast_path_matches_reference_message(language: Language, sample_issue_path: Path) -> None:
    """MessageTemplate.build parses to the same headers and bodies as the EmailMessage version."""
    settings = get_settings()
    rendered = Renderer(settings.base_url).render(load_issue(sample_issue_path), Variant(language))
    sender = Sender(
        from_address="AI 前沿论文速递 <digest@news.example.org>",
        base_url=settings.base_url,
        list_id=settings.list_id,
        reply_to="Editors <editors@news.example.org>",
        unsubscribe_mailto="unsubscribe@news.example.org",
    )
    template = MessageTemplate(rendered, sender, "2022-09-07", subject_prefix="[测试] ")
    for n in (1, 2, 99_999):
        fast = parse(template.build(reader(n), DATE))
        slow = parse(build_reference_message(
            rendered, sender, "2022-09-07", reader(n), DATE, subject_prefix="[测试] "
        ))
        for name in (*REQUIRED, "Reply-To", "X-Newsletter-Delivery", "MIME-Version"):
            if name == "Message-ID":  # random first part, then the same delivery id
                fast_id, slow_id = str(fast[name]), str(slow[name])
                assert fast_id != slow_id
                assert fast_id.split(".", 1)[1] == slow_id.split(".", 1)[1]
                continue
            assert str(fast[name]) == str(slow[name]), name
        assert fast["To"] == f"reader{n}@example.com"
        assert str(fast["Subject"]).startswith("[测试] ")
        assert fast.get_content_type() == slow.get_content_type() == "multipart/alternative"
        assert parts(fast) == parts(slow)
        assert reader(n).unsubscribe_token in parts(fast)["text/html"]


@pytest.mark.parametrize(
    "recipient",
    [
        Recipient("reader@example.com\r\nBcc: victim@example.com", "d1", "u" * 63, "p" * 63),
        Recipient("reader@example.com", "d1\nX-Evil: 1", "u" * 63, "p" * 63),
    ],
    ids=["address", "delivery id"],
)
def test_line_breaks_in_recipient_headers_are_refused(
    recipient: Recipient, sample_issue_path: Path
) -> None:
    """CR or LF in a per-recipient header value raises HeaderInjectionError."""
    settings = get_settings()
    rendered = Renderer(settings.base_url).render(load_issue(sample_issue_path))
    template = MessageTemplate(rendered, wiring.sender(settings), "2022-09-07")
    with pytest.raises(HeaderInjectionError):
        template.build(recipient, DATE)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("from_address", "Digest <digest@news.example.org>\r\nBcc: victim@example.com"),
        ("list_id", "AI Digest\n<digest.news.example.org>"),
        ("reply_to", "editors@news.example.org\rX-Evil: 1"),
        ("unsubscribe_mailto", "unsub@news.example.org\nBcc: x@example.com"),
    ],
)
def test_line_breaks_in_sender_headers_are_refused(
    field: str, value: str, sample_issue_path: Path
) -> None:
    """CR or LF in From, List-Id, Reply-To or the unsubscribe mailto raises HeaderInjectionError."""
    settings = get_settings()
    rendered = Renderer(settings.base_url).render(load_issue(sample_issue_path))
    fields = {"from_address": settings.from_address, "base_url": settings.base_url,
              "list_id": settings.list_id, field: value}
    with pytest.raises(HeaderInjectionError):
        MessageTemplate(rendered, Sender(**fields), "2022-09-07")


def test_line_break_in_subject_is_refused(sample_issue_path: Path) -> None:
    """A subject prefix with a line break is refused instead of starting a new header."""
    settings = get_settings()
    rendered = Renderer(settings.base_url).render(load_issue(sample_issue_path))
    with pytest.raises(HeaderInjectionError):
        MessageTemplate(
            rendered, wiring.sender(settings), "2022-09-07", subject_prefix="x\nBcc: y "
        )


def test_message_ids_are_unique_and_valid_even_for_odd_delivery_ids() -> None:
    """Each build gets its own RFC-valid Message-ID, even when the delivery id has ':' or ','."""
    import email.policy
    from email import message_from_bytes

    from newsletter.mail.message import message_id

    first, second = (message_id("test.2022-09-07.both:CL,LG.1", "news.example.org")
                     for _ in range(2))
    assert first != second
    pattern = r"<[0-9a-f]{16}\.test\.2022-09-07\.both-CL-LG\.1@news\.example\.org>"
    assert re.fullmatch(pattern, first)
    raw = f"Message-ID: {first}\r\n\r\n".encode()
    parsed = message_from_bytes(raw, policy=email.policy.default)
    assert parsed["Message-ID"] == first
    assert not parsed["Message-ID"].defects
