"""`newsletter send --today` and the future-date guard, with the clock injected."""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path

import pytest
from support.delivery import PausesAfter, outbox, subscribe
from support.sending import send_issue
from typer.testing import CliRunner

from newsletter import wiring
from newsletter.cli import delivery
from newsletter.cli.main import app
from newsletter.sending.schedule import local_date, plan_today
from newsletter.settings import get_settings
from newsletter.store.campaigns import CampaignStore
from newsletter.store.db import open_database

# 2022-09-07 01:00 in Shanghai, still 2022-09-06 in UTC.
SHANGHAI_MORNING = dt.datetime(2022, 9, 6, 17, 0, tzinfo=dt.UTC)


@pytest.fixture
def issues(tmp_path: Path, sample_issue_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """NEWSLETTER_ISSUES_DIR holding the sample issue (2022-09-07), and 14 subscribers."""
    folder = tmp_path / "issues"
    folder.mkdir()
    shutil.copy(sample_issue_path, folder / sample_issue_path.name)
    monkeypatch.setenv("NEWSLETTER_ISSUES_DIR", str(folder))
    monkeypatch.setenv("NEWSLETTER_MAX_SEND_RATE", "500")
    subscribe(os.environ["NEWSLETTER_DATABASE_URL"], 14)
    return folder


def run_send(monkeypatch: pytest.MonkeyPatch, now: dt.datetime, *args: str) -> tuple[int, str]:
    """`newsletter send ARGS` with the CLI's clock fixed at ``now``; (exit code, all output)."""
    monkeypatch.setattr(delivery, "utc_now", lambda: now)
    result = CliRunner().invoke(app, ["send", *args])
    assert "Traceback" not in result.output + result.stderr
    return result.exit_code, result.output + result.stderr


def campaign_status(date: str) -> str | None:
    db = open_database(os.environ["NEWSLETTER_DATABASE_URL"])
    try:
        found = CampaignStore(db).get(date)
    finally:
        db.close()
    return found.status if found else None


def test_today_is_the_date_in_the_configured_time_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same instant is 2022-09-07 in Shanghai (the default) and 2022-09-06 in Berlin."""
    assert local_date(wiring.send_config(get_settings()), SHANGHAI_MORNING) == dt.date(2022, 9, 7)
    monkeypatch.setenv("NEWSLETTER_TIMEZONE", "Europe/Berlin")
    assert local_date(wiring.send_config(get_settings()), SHANGHAI_MORNING) == dt.date(2022, 9, 6)


def test_an_unknown_time_zone_is_a_settings_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """NEWSLETTER_TIMEZONE=Mars/Base stops the command with one line naming the variable."""
    monkeypatch.setenv("NEWSLETTER_TIMEZONE", "Mars/Base")
    result = CliRunner().invoke(app, ["send", "--today"])
    assert result.exit_code == 1
    assert "NEWSLETTER_TIMEZONE='Mars/Base': must be an IANA time zone name" in result.stderr


def test_no_issue_today_exits_0_and_says_so(
    issues: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """With no file for today, --today sends nothing, says so, and exits 0 (cron stays quiet)."""
    code, output = run_send(monkeypatch, SHANGHAI_MORNING + dt.timedelta(days=1), "--today")
    assert code == 0
    assert "no issue for today (2022-09-08 in Asia/Shanghai)" in output
    assert campaign_status("2022-09-08") is None
    assert not list(tmp_path.glob("outbox/*.eml"))


@pytest.mark.slow
def test_today_sends_todays_issue_without_asking(
    issues: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """At 01:00 Shanghai time --today sends the issue dated that day, with no terminal."""
    code, output = run_send(monkeypatch, SHANGHAI_MORNING, "--today")
    assert code == 0, output
    assert "sending today's issue 2022-09-07" in output
    assert campaign_status("2022-09-07") == "done"
    sent = outbox(tmp_path / "outbox")
    assert len(sent) == 12  # 14 readers, two of whom chose only categories with no paper
    assert all("2022-09-07" in str(m["Subject"]) for m in sent)


@pytest.mark.e2e  # a whole campaign or process: `make test`, not test-fast
def test_already_sent_exits_0_and_sends_nothing_more(
    issues: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A second --today on the same day finds the campaign done, says so, and exits 0."""
    assert run_send(monkeypatch, SHANGHAI_MORNING, "--today")[0] == 0
    before = len(outbox(tmp_path / "outbox"))
    code, output = run_send(monkeypatch, SHANGHAI_MORNING + dt.timedelta(hours=5), "--today")
    assert code == 0
    assert "campaign 2022-09-07: already sent" in output
    assert len(outbox(tmp_path / "outbox")) == before


@pytest.mark.e2e  # a whole campaign or process: `make test`, not test-fast
def test_today_resumes_a_paused_campaign(
    issues: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A campaign paused after 5 messages is resumed by --today and finished, no one twice."""
    settings = get_settings()
    first = send_issue(settings, str(issues / "2022-09-07.yaml"),
                       transport=PausesAfter(tmp_path / "outbox", 5))
    assert first.outcome == "paused"
    with wiring.database(settings) as db:
        plan = plan_today(wiring.send_config(settings), CampaignStore(db), SHANGHAI_MORNING)
    assert plan.action == "send"
    code, output = run_send(monkeypatch, SHANGHAI_MORNING, "--today")
    assert code == 0, output
    assert campaign_status("2022-09-07") == "done"
    recipients = [str(m["To"]) for m in outbox(tmp_path / "outbox")]
    assert len(recipients) == 12 and len(set(recipients)) == 12


@pytest.mark.e2e  # a whole campaign or process: `make test`, not test-fast
def test_a_future_issue_is_refused_without_force(
    issues: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The day before in Shanghai, sending 2022-09-07 is refused; --force sends it."""
    day_before = SHANGHAI_MORNING - dt.timedelta(days=1)
    code, output = run_send(monkeypatch, day_before, "2022-09-07", "--yes")
    assert code == 1
    assert "dated 2022-09-07, after today (2022-09-06 in Asia/Shanghai)" in output
    assert "--force" in output
    assert campaign_status("2022-09-07") is None
    code, output = run_send(monkeypatch, day_before, "2022-09-07", "--yes", "--force")
    assert code == 0, output
    assert campaign_status("2022-09-07") == "done"


def test_today_and_an_issue_together_are_refused(
    issues: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`send ISSUE --today` is a usage error; so is `send` with neither."""
    assert run_send(monkeypatch, SHANGHAI_MORNING, "2022-09-07", "--today")[0] == 2
    code, output = run_send(monkeypatch, SHANGHAI_MORNING)
    assert code == 2 and "--today" in output
