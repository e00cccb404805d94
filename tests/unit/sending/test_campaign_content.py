"""Resuming a campaign after its issue file was edited is noticed, not done silently."""

from __future__ import annotations

import email
import email.policy
import os
import shutil
from pathlib import Path

import pytest
from support.delivery import PausesAfter, subscribe
from support.sending import run_worker, send_issue

from newsletter.errors import CampaignError
from newsletter.settings import get_settings
from newsletter.store.campaigns import CampaignStore
from newsletter.store.db import open_database
from newsletter.transports.outbox import OutboxTransport


def subjects(outbox: Path) -> list[str]:
    found = []
    for path in outbox.glob("*.eml"):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        found.append(str(message["Subject"]))
    return found


@pytest.fixture
def half_sent(tmp_path: Path, sample_issue_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A campaign of the sample issue paused after 5 messages; returns the issue's path."""
    monkeypatch.setenv("NEWSLETTER_MAX_SEND_RATE", "500")
    subscribe(os.environ["NEWSLETTER_DATABASE_URL"], 14)
    issue = tmp_path / "issues" / "2022-09-07.yaml"
    issue.parent.mkdir()
    shutil.copy(sample_issue_path, issue)
    first = send_issue(get_settings(), str(issue), transport=PausesAfter(tmp_path / "outbox", 5))
    assert first.outcome == "paused" and first.counts.sent == 5
    return issue


def edit_title(issue: Path) -> None:
    text = issue.read_text("utf-8")
    issue.write_text(text.replace("title_en: AI Paper Digest", "title_en: EDITED Digest"), "utf-8")


def test_resume_after_an_edit_is_refused(half_sent: Path, tmp_path: Path) -> None:
    """An edited issue stops the resume with a clear error; nothing more is sent."""
    edit_title(half_sent)
    with pytest.raises(CampaignError, match="edited after its campaign started"):
        send_issue(get_settings(), str(half_sent), transport=OutboxTransport(tmp_path / "outbox"))
    assert len(subjects(tmp_path / "outbox")) == 5


@pytest.mark.slow
def test_comment_only_edits_do_not_count(half_sent: Path, tmp_path: Path) -> None:
    """Comments and layout are not content: the campaign resumes and finishes."""
    half_sent.write_text("# a comment added later\n" + half_sent.read_text("utf-8"), "utf-8")
    summary = send_issue(
        get_settings(), str(half_sent), transport=OutboxTransport(tmp_path / "outbox")
    )
    assert summary.outcome == "done"
    assert len(subjects(tmp_path / "outbox")) == summary.counts.sent


@pytest.mark.slow
def test_accept_changes_sends_the_rest_the_new_version(half_sent: Path, tmp_path: Path) -> None:
    """With accept_changes the rest go out with the edit, and later resumes accept it too."""
    edit_title(half_sent)
    summary = send_issue(
        get_settings(),
        str(half_sent),
        transport=OutboxTransport(tmp_path / "outbox"),
        accept_changes=True,
    )
    assert summary.outcome == "done"
    sent = subjects(tmp_path / "outbox")
    assert len(sent) == summary.counts.sent
    assert any("EDITED Digest" in s for s in sent)
    again = send_issue(get_settings(), str(half_sent), transport=OutboxTransport(tmp_path / "out2"))
    assert again.outcome == "done"


def test_worker_pauses_a_campaign_whose_issue_changed(half_sent: Path, tmp_path: Path) -> None:
    """A worker finding the issue edited pauses the campaign with the reason, sending nothing."""
    db = open_database(os.environ["NEWSLETTER_DATABASE_URL"])
    store = CampaignStore(db)
    campaign = store.get("2022-09-07")
    assert campaign is not None
    store.set_status(campaign.id, "sending")
    edit_title(half_sent)
    summaries = run_worker(get_settings(), once=True, transport=OutboxTransport(tmp_path / "w"))
    assert [s.outcome for s in summaries] == ["paused"]
    paused = store.get("2022-09-07")
    assert paused is not None and "edited after its campaign started" in paused.paused_reason
    assert not (tmp_path / "w").exists()
    db.close()


@pytest.mark.slow
def test_send_command_explains_and_accepts_changes(half_sent: Path) -> None:
    """`newsletter send` refuses an edited issue with one line; --accept-changes finishes it."""
    from typer.testing import CliRunner

    from newsletter.cli.main import app

    edit_title(half_sent)
    refused = CliRunner().invoke(app, ["send", str(half_sent), "--yes"])
    assert refused.exit_code == 1
    assert "--accept-changes" in refused.stderr and "Traceback" not in refused.output
    accepted = CliRunner().invoke(app, ["send", str(half_sent), "--yes", "--accept-changes"])
    assert accepted.exit_code == 0, accepted.output
    assert "done" in accepted.stdout


def test_the_refusal_names_the_command_to_run(half_sent: Path) -> None:
    """The edited-issue refusal gives a command that can be pasted: the date, not `ISSUE`."""
    edit_title(half_sent)
    with pytest.raises(CampaignError) as refused:
        send_issue(get_settings(), str(half_sent), transport=OutboxTransport(half_sent.parent))
    assert "`newsletter send 2022-09-07 --accept-changes`" in str(refused.value)
    assert "ISSUE" not in str(refused.value)


@pytest.mark.e2e  # a whole campaign or process: `make test`, not test-fast
def test_editing_a_finished_campaigns_issue_offers_nothing_to_accept(
    half_sent: Path, tmp_path: Path
) -> None:
    """Once every reader got the issue, an edit is reported as too late, not as acceptable."""
    done = send_issue(get_settings(), str(half_sent), transport=OutboxTransport(tmp_path / "o"))
    assert done.outcome == "done"
    edit_title(half_sent)
    with pytest.raises(CampaignError) as refused:
        send_issue(get_settings(), str(half_sent), transport=OutboxTransport(tmp_path / "o"))
    assert "finished" in str(refused.value) and "--accept-changes" not in str(refused.value)
