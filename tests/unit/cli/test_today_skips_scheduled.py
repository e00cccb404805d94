"""`send --today` from cron leaves an issue scheduled from the desk to `newsletter worker`,
and `newsletter worker` starts it when due."""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path

import pytest
from support.clock import FakeClock
from support.delivery import outbox, subscribe
from typer.testing import CliRunner

from newsletter import wiring
from newsletter.cli import delivery
from newsletter.cli.main import app
from newsletter.sending.worker import start_scheduled
from newsletter.settings import get_settings
from newsletter.store.campaigns import CampaignStore
from newsletter.store.desk import DeskStore

# Whole campaigns with workers: `make test`, not test-fast.
pytestmark = pytest.mark.e2e

DATE = "2022-09-07"
# 07:30 in Shanghai (cron's first run); the desk scheduled the send for 08:00 there.
CRON = dt.datetime(2022, 9, 6, 23, 30, tzinfo=dt.UTC)
SEND_AT = dt.datetime(2022, 9, 7, 0, 0, tzinfo=dt.UTC)
READERS = 12  # of 14 subscribers, two chose only categories with no paper in the issue


@pytest.fixture
def issue(tmp_path: Path, sample_issue_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The sample issue in NEWSLETTER_ISSUES_DIR, 14 subscribers, and its send scheduled
    from the desk for 08:00 Shanghai time."""
    folder = tmp_path / "issues"
    folder.mkdir()
    path = folder / sample_issue_path.name
    shutil.copy(sample_issue_path, path)
    monkeypatch.setenv("NEWSLETTER_ISSUES_DIR", str(folder))
    monkeypatch.setenv("NEWSLETTER_MAX_SEND_RATE", "500")
    subscribe(os.environ["NEWSLETTER_DATABASE_URL"], 14)
    with wiring.database(get_settings()) as db:
        assert DeskStore(db).schedule(DATE, str(path), SEND_AT, "editor@example.org")
    return path


def run(monkeypatch: pytest.MonkeyPatch, now: dt.datetime, *args: str) -> tuple[int, str]:
    """`newsletter ARGS` with the CLI's clock at ``now``; (exit code, all output)."""
    monkeypatch.setattr(delivery, "utc_now", lambda: now)
    result = CliRunner().invoke(app, list(args))
    assert "Traceback" not in result.output + result.stderr
    return result.exit_code, result.output + result.stderr


def campaign_status() -> str | None:
    with wiring.database(get_settings()) as db:
        found = CampaignStore(db).get(DATE)
    return found.status if found else None


def test_today_leaves_a_waiting_schedule_to_the_worker(
    issue: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """At 07:30 `send --today` says the issue is scheduled for 08:00, exits 0, sends nothing."""
    code, output = run(monkeypatch, CRON, "send", "--today")
    assert code == 0, output
    assert (f"today's issue {DATE}: scheduled for 08:00 from the desk; the worker sends it "
            "(Asia/Shanghai time)") in output
    assert campaign_status() is None
    assert not outbox(tmp_path / "outbox")
    # Still so after the hour, while no worker has taken it yet.
    code, output = run(monkeypatch, CRON + dt.timedelta(hours=2), "send", "--today")
    assert code == 0 and "scheduled for 08:00 from the desk" in output
    assert campaign_status() is None


def test_today_resumes_a_scheduled_campaign_the_worker_started(
    issue: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Once the worker has started the schedule (snapshot taken, nothing sent yet),
    `send --today` continues that campaign as any other: each reader gets it once."""
    settings = get_settings()
    with wiring.scheduled_sending(settings, clock=FakeClock(SEND_AT)) as (campaigns, schedules):
        assert start_scheduled(campaigns, schedules) == [DATE]
    assert campaign_status() == "sending"
    code, output = run(monkeypatch, SEND_AT + dt.timedelta(hours=1), "send", "--today")
    assert code == 0, output
    assert f"sending today's issue {DATE}" in output
    assert campaign_status() == "done"
    recipients = [str(m["To"]) for m in outbox(tmp_path / "outbox")]
    assert len(recipients) == READERS and len(set(recipients)) == READERS


def test_worker_command_sends_the_schedule_and_today_finds_it_sent(
    issue: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """`newsletter worker --once` at 08:00 starts and sends the scheduled issue; the 09:30
    `send --today` then says it was already sent and sends nothing more."""
    code, output = run(monkeypatch, CRON, "worker", "--once")
    assert code == 0, output
    assert "no campaign to send" in output  # not due yet
    code, output = run(monkeypatch, SEND_AT, "worker", "--once")
    assert code == 0, output
    assert f"campaign {DATE}: done" in output
    assert len(outbox(tmp_path / "outbox")) == READERS
    code, output = run(monkeypatch, SEND_AT + dt.timedelta(hours=1, minutes=30),
                       "send", "--today")
    assert code == 0, output
    assert f"campaign {DATE}: already sent" in output
    assert len(outbox(tmp_path / "outbox")) == READERS


def test_worker_command_prints_why_a_schedule_was_not_sent(
    issue: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A scheduled issue failing preflight: `worker --once` prints the reason on stderr,
    sends nothing, and exits 0 (the worker itself is fine)."""
    text = issue.read_text(encoding="utf-8")
    issue.write_text(text.replace("attribution: 转自爱可可爱生活", "attribution: TODO"),
                     encoding="utf-8")
    result_code, output = run(monkeypatch, SEND_AT, "worker", "--once")
    assert result_code == 0, output
    assert f"scheduled send {DATE}: not started" in output
    assert "a TODO is left" in output
    assert campaign_status() is None
    assert not outbox(tmp_path / "outbox")
