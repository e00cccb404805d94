"""The "For you" block (issue 21): papers a reader's follows match come first in their
email, named with what matched; readers without matches get the variant's message."""

from __future__ import annotations

import email
import email.policy
import os
import re
import shutil
from email.message import EmailMessage
from pathlib import Path

import pytest
from support.sending import send_issue

from newsletter.model.editions import parse_preferences
from newsletter.settings import get_settings
from newsletter.store.db import open_database
from newsletter.store.editions import PreferenceStore
from newsletter.store.subscribers import SubscriberStore
from newsletter.transports.outbox import OutboxTransport

READERS = {
    # address: (language, max papers, follows)
    "keyword@example.org": ("en", "", "gflownets; Transformers"),
    "author@example.org": ("en", "", "author:y bengio; affiliation:Google Brain"),
    "chinese@example.org": ("zh", "", "稀疏专家"),
    "three@example.org": ("en", "3", "GAN; affiliation:Mila"),
    "nothing@example.org": ("en", "", "quantum; author:Bengio Y"),
    "plain@example.org": ("en", "", ""),
}


@pytest.fixture
def outbox(tmp_path: Path, sample_issue_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("NEWSLETTER_MAX_SEND_RATE", "500")
    db = open_database(os.environ["NEWSLETTER_DATABASE_URL"])
    try:
        for address, (language, limit, follows) in READERS.items():
            reader = SubscriberStore(db).add(address, status="active", language=language)
            PreferenceStore(db).set(reader.id, parse_preferences("daily", limit, follows))
    finally:
        db.close()
    issue = tmp_path / "issues" / "2022-09-07.yaml"
    issue.parent.mkdir()
    shutil.copy(sample_issue_path, issue)
    summary = send_issue(get_settings(), str(issue),
                         transport=OutboxTransport(tmp_path / "outbox"))
    assert summary.outcome == "done" and summary.counts.sent == len(READERS)
    return tmp_path / "outbox"


def _for_you(outbox: Path) -> dict[str, tuple[list[tuple[str, str]], str]]:
    """Per reader: the For-you entries (arXiv id, what matched) of the plain text, and the
    HTML part."""
    found = {}
    for path in outbox.glob("*.eml"):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        text = message.get_body(("plain",)).get_content().replace("\r\n", "\n")  # type: ignore[union-attr]
        html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
        block = re.search(r"(?:For you|为你推荐)\n\n(.*?)\n={70}", text, re.S)
        entries = re.findall(r"arxiv\.org/abs/(\S+)\n(?:  matches: |  匹配：)(.*)\n",
                             block.group(1)) if block else []
        found[str(message["To"])] = (entries, html)
    return found


def test_matching_papers_come_first_naming_what_matched(outbox: Path) -> None:
    """Keywords (any case, whole words), authors, affiliations and a Chinese term each put
    their papers in the block, in the issue's order, with the reader's words; an N=3
    reader's block holds only papers among their three; no match, no block."""
    got = _for_you(outbox)
    assert got["keyword@example.org"][0] == [
        ("2209.01667", "Transformers"), ("2209.02535", "Transformers"),
        ("2209.02606", "gflownets"), ("2209.01540", "Transformers")]
    assert got["author@example.org"][0] == [
        ("2209.01667", "Google Brain"), ("2209.02606", "y bengio")]
    assert got["chinese@example.org"][0] == [("2209.01667", "稀疏专家")]
    assert got["three@example.org"][0] == []
    assert got["nothing@example.org"][0] == got["plain@example.org"][0] == []
    html = got["author@example.org"][1]
    assert html.index("nl-for-you") < html.index('class="nl-paper"')
    assert "matches: Google Brain" in html
    assert "nl-for-you" not in got["plain@example.org"][1]
