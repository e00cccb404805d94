"""The message around every transactional email: the shared headers, and what varies."""

from __future__ import annotations

import datetime as dt
import email
from email.policy import default

import pytest

from newsletter.errors import HeaderInjectionError
from newsletter.mail.message import Sender
from newsletter.mail.transactional import transactional_message

WHEN = dt.datetime(2026, 12, 6, 9, 30, tzinfo=dt.UTC)


def _sender(**kw: str) -> Sender:
    return Sender(from_address="Digest <news@example.org>", base_url="https://n.example.org",
                  list_id="<digest.example.org>", **kw)


def _parse(raw: bytes) -> email.message.EmailMessage:
    assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")
    msg = email.message_from_bytes(raw, policy=default)
    assert isinstance(msg, email.message.EmailMessage)
    return msg


def test_plain_message_has_both_parts_and_no_list_headers() -> None:
    msg = _parse(transactional_message(_sender(), "reader@example.net", "确认 · Confirm",
                                       WHEN, "<p>html 你好</p>", "text 你好"))
    assert msg["To"] == "reader@example.net"
    assert msg["Subject"] == "确认 · Confirm"
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg["Message-ID"].endswith("@example.org>")
    assert msg["Date"] == "Sun, 06 Dec 2026 09:30:00 +0000"
    assert msg["List-Unsubscribe"] is None and msg["List-Id"] is None
    plain = msg.get_body(("plain",))
    html = msg.get_body(("html",))
    assert plain is not None and html is not None
    assert plain.get_content().strip() == "text 你好"
    assert html.get_content().strip() == "<p>html 你好</p>"


def test_list_message_carries_one_click_unsubscribe_with_mailto() -> None:
    sender = _sender(unsubscribe_mailto="unsub@example.org", reply_to="ed@example.org")
    msg = _parse(transactional_message(sender, "r@example.net", "s", WHEN, "<p>h</p>", "t",
                                       unsubscribe_url="https://n.example.org/unsubscribe/T"))
    assert msg["List-Id"] == "<digest.example.org>"
    assert msg["List-Unsubscribe"] == ("<https://n.example.org/unsubscribe/T>, "
                                       "<mailto:unsub@example.org?subject=unsubscribe>")
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert msg["Reply-To"] == "ed@example.org"


def test_reply_to_can_be_left_out() -> None:
    sender = _sender(reply_to="ed@example.org")
    msg = _parse(transactional_message(sender, "r@example.net", "s", WHEN, "<p>h</p>", "t",
                                       reply_to=False))
    assert msg["Reply-To"] is None


@pytest.mark.parametrize("field", ["to", "url"])
def test_line_breaks_in_header_values_are_refused(field: str) -> None:
    to = "r@example.net\r\nBcc: x@example.com" if field == "to" else "r@example.net"
    url = "https://n.example.org/u\r\nBcc: x@example.com" if field == "url" else "https://u"
    with pytest.raises(HeaderInjectionError):
        transactional_message(_sender(), to, "s", WHEN, "<p>h</p>", "t", unsubscribe_url=url)
