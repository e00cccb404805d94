"""A reader's message is the same through SendBulkEmail (inline template, data, replacement
headers) as through SendEmail (our own MIME bytes): both sent by ``newsletter send`` into
the loopback SES simulator, which renders bulk entries as SES does, then parsed."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from html import escape as html_escape
from pathlib import Path

import pytest
from support.delivery import subscribe
from support.env import SAMPLE_ISSUE, TEST_SECRET, use_loopback_ses
from support.sending import send_issue
from support.ses_sim import SesSimulator

from newsletter.model.editions import parse_preferences
from newsletter.settings import Settings
from newsletter.store.db import open_database, upgrade
from newsletter.store.editions import PreferenceStore
from newsletter.tokens import make_token

pytestmark = pytest.mark.e2e  # two whole campaigns

FIXED_TIME = 1_700_000_000.0
# Content that looks like template syntax must reach readers as written.
HOSTILE_TITLE = r"MO2 {{#each readers}}{{name}}{{/each}} \{{u}} \\{{{p}}} {{{lb}}} }} {"
# Issue 21's "For you" on the bulk path: readers with follows (the first two, "both" and
# "zh"; the hostile MO2 title among their matches) get their block as template data.
FOLLOWS = {"reader0000@example.com": "MO2; gflownets; author:y bengio",
           "reader0001@example.com": "稀疏专家; Transformers"}
FOR_YOU = ("For you", "为你推荐")
READER_HEADERS = ("From", "To", "Subject", "Reply-To", "List-Id", "List-Unsubscribe",
                  "List-Unsubscribe-Post", "X-Newsletter-Delivery",
                  "MIME-Version", "Content-Language")


@dataclass
class Sent:
    """Both paths' messages by address, and the bytes each path sent to SES."""

    single: dict[str, EmailMessage]
    bulk: dict[str, EmailMessage]
    single_bytes: int
    bulk_bytes: int


@pytest.fixture(scope="module")
def sent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sent]:
    """One ``newsletter send`` per path of the hostile issue to the same seven readers."""
    tmp_path = tmp_path_factory.mktemp("both-paths")
    with SesSimulator(1000, latency=0.0, keep_messages=True) as sim, \
            pytest.MonkeyPatch.context() as monkeypatch:
        use_loopback_ses(monkeypatch, tmp_path, sim.url)
        monkeypatch.setenv("NEWSLETTER_SECRET_KEY", TEST_SECRET)
        monkeypatch.setenv("NEWSLETTER_BASE_URL", "https://news.example.org")
        monkeypatch.setenv("NEWSLETTER_FROM_ADDRESS", "AI 论文速递 <digest@news.example.org>")
        monkeypatch.setenv("NEWSLETTER_REPLY_TO", "Editors <editors@news.example.org>")
        monkeypatch.setenv("NEWSLETTER_UNSUBSCRIBE_MAILTO", "leave@news.example.org")
        # Tokens carry their issue time: the same second on both paths.
        fixed = functools.partial(make_token, now=FIXED_TIME)
        monkeypatch.setattr("newsletter.sending.messages.make_token", fixed)
        monkeypatch.setattr("newsletter.sending.bulk_messages.make_token", fixed)
        monkeypatch.setattr("newsletter.sending.personal.make_token", fixed)
        issue = hostile_issue(tmp_path)
        start = sim.bytes_received
        single = send_through(sim, monkeypatch, tmp_path, issue, bulk=False)
        middle = sim.bytes_received
        bulk = send_through(sim, monkeypatch, tmp_path, issue, bulk=True)
        yield Sent(single, bulk, middle - start, sim.bytes_received - middle)


def hostile_issue(tmp_path: Path) -> Path:
    """The sample issue with a paper title full of template syntax."""
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
    readers = subscribe(url, 7)
    db = open_database(url)
    try:
        for reader in readers:
            if reader.email in FOLLOWS:
                PreferenceStore(db).set(
                    reader.id, parse_preferences("daily", "", FOLLOWS[reader.email]))
    finally:
        db.close()
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
    # keeps them inside base64, SES's decodes to LF; readers' clients show both alike. A
    # "For you" block spliced into a base64 body is padded with spaces before a line break
    # (mail/personal.py), which neither HTML nor plain text shows: dropped here alike.
    return tuple(re.sub(r" +\n", "\n", str(p.get_content()).replace("\r\n", "\n"))  # type: ignore[return-value]
                 for p in (text, html))


def links(html: str, text: str) -> list[str]:
    return re.findall(r'href="([^"]+)"', html) + re.findall(r"https?://\S+", text)


def test_a_readers_message_is_the_same_through_both_paths(sent: Sent) -> None:
    assert set(sent.bulk) == set(sent.single) and len(sent.single) == 6
    for address, reference in sent.single.items():
        made = sent.bulk[address]
        for name in READER_HEADERS:
            assert str(made[name]) == str(reference[name]), (address, name)
        text, html = parts(made)
        assert (text, html) == parts(reference), address
        found = links(html, text)
        assert found == links(*reversed(parts(reference)))
        assert any("/unsubscribe/" in link for link in found)


def test_readers_with_follows_get_their_for_you_block_through_bulk_calls(sent: Sent) -> None:
    """The block, the same on both paths above, goes in bulk entries; the others have none."""
    for address, message in sent.bulk.items():
        text, html = parts(message)
        has_block = any(heading in text for heading in FOR_YOU)
        assert has_block is (address in FOLLOWS), address
        if address in FOLLOWS:
            assert "matches" in text or "匹配" in text
    # A matched paper's hostile title inside the block (template data, not template) reaches
    # the reader as written, in the text and, escaped once, in the HTML.
    text, html = parts(sent.bulk["reader0000@example.com"])
    block = text[text.index("For you"):text.index("=" * 20)]
    assert " ".join(HOSTILE_TITLE.split()) in " ".join(block.split())
    assert html.count(html_escape(HOSTILE_TITLE, quote=False)) >= 2  # block and list


def test_content_that_looks_like_a_template_reaches_readers_as_written(sent: Sent) -> None:
    # The readers of the LG paper: its title in the text part (wrapped), in the HTML as markup.
    shown = [parts(m) for m in sent.bulk.values() if "[LG]" in parts(m)[0]]
    assert len(shown) >= 4
    for text, html in shown:
        assert " ".join(HOSTILE_TITLE.split()) in " ".join(text.split())
        assert html_escape(HOSTILE_TITLE, quote=False) in html


def test_the_content_goes_once_per_call_not_once_per_reader(sent: Sent) -> None:
    # Six readers in five variants (one call each): less than the six whole messages.
    assert 0 < sent.bulk_bytes < sent.single_bytes
