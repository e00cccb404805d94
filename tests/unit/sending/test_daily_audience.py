"""The daily send and readers' own choices (issue 21): weekly and paused readers are left
out, a paper limit cuts each email to its first N papers (featured first), and the plan
and ``status`` say how many readers get what."""

from __future__ import annotations

import email
import email.policy
import os
import re
import shutil
from pathlib import Path

import pytest
from support.sending import campaign_status, plan_send, send_issue

from newsletter.model.editions import parse_preferences
from newsletter.settings import get_settings
from newsletter.store.db import open_database
from newsletter.store.editions import PreferenceStore
from newsletter.store.subscribers import SubscriberStore
from newsletter.transports.outbox import OutboxTransport

# The sample issue is of Wednesday 2022-09-07: 5 featured papers, then 4 notable ones.
READERS = {
    "daily@example.org": ("daily", ""),
    "three@example.org": ("daily", "3"),
    "ten@example.org": ("daily", "10"),
    "weekly-wed@example.org": ("weekly:WED", ""),
    "weekly-fri@example.org": ("weekly:FRI", "3"),
    "paused@example.org": ("paused:2022-09-08", ""),
    "resumed@example.org": ("paused:2022-09-07", "3"),
}


@pytest.fixture
def issue(tmp_path: Path, sample_issue_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("NEWSLETTER_MAX_SEND_RATE", "500")
    db = open_database(os.environ["NEWSLETTER_DATABASE_URL"])
    try:
        readers, prefs = SubscriberStore(db), PreferenceStore(db)
        for address, (frequency, limit) in READERS.items():
            reader = readers.add(address, status="active", language="en")
            prefs.set(reader.id, parse_preferences(frequency, limit, ""))
    finally:
        db.close()
    path = tmp_path / "issues" / "2022-09-07.yaml"
    path.parent.mkdir()
    shutil.copy(sample_issue_path, path)
    return path


def _papers_by_reader(outbox: Path) -> dict[str, list[str]]:
    """Each recipient's arXiv ids, in the order of their email's plain text."""
    found: dict[str, list[str]] = {}
    for path in outbox.glob("*.eml"):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        body = message.get_body(("plain",))
        assert body is not None
        ids = re.findall(r"arxiv\.org/abs/(\d{4}\.\d{4,5})", body.get_content())
        assert str(message["To"]) not in found
        found[str(message["To"])] = list(dict.fromkeys(ids))
    return found


@pytest.mark.slow
def test_the_daily_send_follows_frequency_and_paper_limits(issue: Path, tmp_path: Path) -> None:
    """Weekly readers and a reader paused past the issue's day get nothing; a pause that
    ended that day is daily again; N=3 and N=10 readers get the first N papers in the
    editor's order, featured first; the plan and ``status`` give the counts."""
    settings = get_settings()
    plan = plan_send(settings, str(issue))
    assert plan.recipients == 4
    question = plan.question()
    assert "papers per email: 1 every paper, 1 at most 10, 2 at most 3" in question
    assert "not in this daily send: 2 weekly readers (WED 1, FRI 1) get the week's best " \
           "instead; 1 paused" in question
    summary = send_issue(settings, str(issue), transport=OutboxTransport(tmp_path / "outbox"))
    assert summary.outcome == "done" and summary.counts.sent == 4
    assert any(line.startswith("not in this daily send: 2 weekly") for line in summary.lines())
    got = _papers_by_reader(tmp_path / "outbox")
    assert set(got) == {"daily@example.org", "three@example.org", "ten@example.org",
                        "resumed@example.org"}
    order = got["daily@example.org"]
    assert len(order) == 9
    assert got["ten@example.org"] == order
    assert got["three@example.org"] == got["resumed@example.org"] == order[:3]
    status = campaign_status(settings, "2022-09-07")
    assert "papers per email: 1 every paper, 1 at most 10, 2 at most 3" in status.lines()
    assert status.as_json()["audience"] == [
        "papers per email: 1 every paper, 1 at most 10, 2 at most 3"]
