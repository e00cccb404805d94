"""A misconfigured cron job is an error that names the setting, never a quiet day."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from newsletter.cli import delivery
from newsletter.cli.main import app

# 2022-09-07 01:00 in Shanghai (the default time zone).
MORNING = dt.datetime(2022, 9, 6, 17, 0, tzinfo=dt.UTC)


def run(monkeypatch: pytest.MonkeyPatch, *args: str) -> tuple[int, str]:
    monkeypatch.setattr(delivery, "utc_now", lambda: MORNING)
    result = CliRunner().invoke(app, list(args))
    assert "Traceback" not in result.output + result.stderr
    return result.exit_code, result.output + result.stderr


def test_a_missing_issues_folder_is_an_error_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """`send --today` with NEWSLETTER_ISSUES_DIR pointing nowhere fails, saying which setting."""
    monkeypatch.setenv("NEWSLETTER_ISSUES_DIR", str(tmp_path / "no-such-folder"))
    code, output = run(monkeypatch, "send", "--today")
    assert code == 1
    assert "NEWSLETTER_ISSUES_DIR" in output and "no-such-folder" in output
    assert "no issue for today" not in output


def test_the_default_issues_folder_from_the_wrong_working_folder_is_an_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Run from a folder with no `issues/` (cron's home), `send --today` names the folder."""
    monkeypatch.chdir(tmp_path)  # holds no issues/ folder
    code, output = run(monkeypatch, "send", "--today")
    assert code == 1 and "NEWSLETTER_ISSUES_DIR" in output and str(tmp_path) in output


@pytest.mark.parametrize("command", [["send", "--today"], ["status", "2022-09-07"],
                                     ["worker", "--once"]])
def test_a_missing_sqlite_file_is_an_error_and_is_not_created(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, sample_issue_path: Path,
    command: list[str],
) -> None:
    """Commands that only send or read refuse a database file that is not there, and make none."""
    issues = tmp_path / "issues"
    issues.mkdir()
    (issues / sample_issue_path.name).write_bytes(sample_issue_path.read_bytes())
    monkeypatch.setenv("NEWSLETTER_ISSUES_DIR", str(issues))
    missing = tmp_path / "elsewhere" / "newsletter.db"
    missing.parent.mkdir()
    monkeypatch.setenv("NEWSLETTER_DATABASE_URL", f"sqlite:///{missing}")
    code, output = run(monkeypatch, *command)
    assert code == 1
    assert "NEWSLETTER_DATABASE_URL" in output and str(missing) in output
    assert not missing.exists()


def test_an_empty_sqlite_file_is_not_taken_for_the_database(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A file with no newsletter tables is refused by `status`, not filled with a new schema."""
    empty = tmp_path / "other.db"
    empty.write_bytes(b"")
    monkeypatch.setenv("NEWSLETTER_DATABASE_URL", f"sqlite:///{empty}")
    code, output = run(monkeypatch, "status", "2022-09-07")
    assert code == 1 and "no newsletter tables" in output
    with sqlite3.connect(empty) as conn:
        assert conn.execute("SELECT count(*) FROM sqlite_master").fetchone() == (0,)


def test_adding_subscribers_still_creates_a_new_database(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The first `subscribers add` of a new install makes the SQLite file, as before."""
    fresh = tmp_path / "fresh.db"
    monkeypatch.setenv("NEWSLETTER_DATABASE_URL", f"sqlite:///{fresh}")
    code, output = run(monkeypatch, "subscribers", "add", "ada@example.org", "--confirmed")
    assert code == 0, output
    assert fresh.exists()
