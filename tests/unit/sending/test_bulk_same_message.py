"""A reader's message is the same through SendBulkEmail (inline template, data, replacement
headers) as through SendEmail (our own MIME bytes): both sent by ``newsletter send`` into
the loopback SES simulator, which renders bulk entries as SES does, then parsed."""

from __future__ import annotations

import functools
from html import escape as html_escape
import re
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from support.delivery import subscribe
from support.env import SAMPLE_ISSUE, use_loopback_ses
from support.sending import send_issue
from support.ses_sim import SesSimulator

from newsletter.settings import Settings
from newsletter.store.db import upgrade
from newsletter.tokens import make_token

FIXED_TIME = 1_700_000_000.0
# Content that looks like template syntax must reach readers as written.
HOSTILE_TITLE = r"MO2 {{#each readers}}{{name}}{{/each}} \{{u}} \\{{{p}}} {{{lb}}} }} {"
READER_HEADERS = ("From", "To", "Subject", "Reply-To", "List-Id", "List-Unsubscribe",
                  "List-Unsubscribe-Post", "Feedback-ID", "X-Newsletter-Delivery",
                  "MIME-Version")


@pytest.fixture
def sim(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[SesSimulator]:
    with SesSimulator(1000, latency=0.0, keep_messages=True) as server:
        use_loopback_ses(monkeypatch, tmp_path, server.url)
        monkeypatch.setenv("NEWSLETTER_FROM_ADDRESS", "AI 论文速递 <digest@news.example.org>")
        monkeypatch.setenv("NEWSLETTER_REPLY_TO", "Editors <editors@news.example.org>")
        monkeypatch.setenv("NEWSLETTER_UNSUBSCRIBE_MAILTO", "leave@news.example.org")
        # Tokens carry their issue time: the same second on both paths.
        fixed = functools.partial(make_token, now=FIXED_TIME)
        monkeypatch.setattr("newsletter.sending.messages.make_token", fixed)
        monkeypatch.setattr("newsletter.sending.bulk_messages.make_token", fixed)
        yield server


@pytest.fixture
def hostile_issue(tmp_path: Path) -> Path:
    text = SAMPLE_ISSUE.read_text(encoding="utf-8")
    original = "title: 'MO2: Model-Based Offline Options'"
    assert original in text
    path = tmp_path / "issues" / SAMPLE_ISSUE.name
    path.parent.mkdir()
    path.write_text(text.replace(original, f"title: '{HOSTILE_TITLE}'"), encoding="utf-8")
    return path


def send_through(
    sim: SesSimulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, issue: Path,
    bulk: bool,
) -> dict[str, EmailMessage]:
    """``newsletter send`` to seven readers (every variant) on a fresh database; by address."""
    url = f"sqlite:///{tmp_path / ('bulk.db' if bulk else 'single.db')}"
    upgrade(url)
    monkeypatch.setenv("NEWSLETTER_DATABASE_URL", url)
    monkeypatch.setenv("NEWSLETTER_SES_BULK", "true" if bulk else "false")
    subscribe(url, 7)
    before = sim.bulk_calls
    kept = len(sim.messages)
    summary = send_issue(Settings(), str(issue))
    assert summary.counts.sent == 6, summary  # one reader chose only RO: nothing for them
    assert (sim.bulk_calls > before) is bulk
    found: dict[str, EmailMessage] = {}
    for accepted in sim.messages[kept:]:
        message = message_from_bytes(accepted.raw, policy=policy.default)
        assert isinstance(message, EmailMessage)
        found[accepted.to[0]] = message
    return found


def parts(message: EmailMessage) -> tuple[str, str]:
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None
    # Line breaks in text parts are CRLF on the wire (MIME's canonical form): our encoder
    # keeps them inside base64, SES's decodes to LF; readers' clients show both alike.
    return tuple(str(p.get_content()).replace("\r\n", "\n") for p in (text, html))  # type: ignore[return-value]


def links(html: str, text: str) -> list[str]:
    return re.findall(r'href="([^"]+)"', html) + re.findall(r"https?://\S+", text)


def test_a_readers_message_is_the_same_through_both_paths(
    sim: SesSimulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, hostile_issue: Path
) -> None:
    single = send_through(sim, monkeypatch, tmp_path, hostile_issue, bulk=False)
    bulk = send_through(sim, monkeypatch, tmp_path, hostile_issue, bulk=True)

    assert set(bulk) == set(single) and len(single) == 6
    for address, reference in single.items():
        made = bulk[address]
        for name in READER_HEADERS:
            assert str(made[name]) == str(reference[name]), (address, name)
        text, html = parts(made)
        assert (text, html) == parts(reference), address
        found = links(html, text)
        assert found == links(*reversed(parts(reference)))
        assert any("/unsubscribe/" in link for link in found)


def test_content_that_looks_like_a_template_reaches_readers_as_written(
    sim: SesSimulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, hostile_issue: Path
) -> None:
    bulk = send_through(sim, monkeypatch, tmp_path, hostile_issue, bulk=True)
    # The readers of the LG paper: its title in the text part (wrapped), in the HTML as markup.
    shown = [parts(m) for m in bulk.values() if "[LG]" in parts(m)[0]]
    assert len(shown) >= 4
    for text, html in shown:
        assert " ".join(HOSTILE_TITLE.split()) in " ".join(text.split())
        assert html_escape(HOSTILE_TITLE, quote=False) in html


def test_the_template_is_sent_once_per_call_not_per_reader(
    sim: SesSimulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, hostile_issue: Path
) -> None:
    start = sim.bytes_received
    send_through(sim, monkeypatch, tmp_path, hostile_issue, bulk=False)
    single_bytes = sim.bytes_received - start
    start = sim.bytes_received
    send_through(sim, monkeypatch, tmp_path, hostile_issue, bulk=True)
    bulk_bytes = sim.bytes_received - start
    stats: dict[str, Any] = sim.stats()
    assert stats["duplicates"] == 6  # each reader once per path
    # Six readers in five variants: about one template per variant, not one message each.
    assert bulk_bytes < single_bytes
