"""Hostile issue files (alias bombs, deep nesting, huge numbers, huge files) are refused
quickly with one clear problem, never a traceback, a hang or gigabytes of memory."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.env import SAMPLE_ISSUE
from support.hostile import ALIAS_BOMB, hostile_files

from newsletter.errors import IssueValidationError
from newsletter.issues.categories import available_categories
from newsletter.issues.loader import load_issue, parse_issue

NEWSLETTER = str(Path(sys.executable).parent / "newsletter")


def validate(path: Path) -> subprocess.CompletedProcess[str]:
    """`newsletter validate` in its own process, limited to 1 GB of memory and 60 s."""

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (1024**3, 1024**3))

    return subprocess.run(
        [NEWSLETTER, "validate", str(path)], capture_output=True, text=True, timeout=60,
        preexec_fn=limit, env=os.environ, check=False,
    )


@pytest.mark.e2e  # runs `newsletter validate` as a process with a memory limit
@pytest.mark.parametrize("name", sorted(hostile_files()))
def test_validate_refuses_a_hostile_file_quickly_in_one_line(tmp_path: Path, name: str) -> None:
    """`validate` exits 1 within seconds with FILE:LINE problems and no traceback."""
    path = tmp_path / "2022-09-07.yaml"
    path.write_text(hostile_files()[name], encoding="utf-8")
    started = time.monotonic()
    result = validate(path)
    elapsed = time.monotonic() - started
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert f"{path}:" in result.stdout + result.stderr
    assert len(result.stdout + result.stderr) < 2000
    assert elapsed < 15


def test_the_limits_are_named_in_the_problem() -> None:
    """Each limit says which one was passed and what to do."""
    files = hostile_files()
    expected = {
        "alias-bomb": "aliases",
        "deep": "nested more than",
        "big-number": "digits",
        "hex-title": "digits",
        "sexagesimal-title": "digits",
        "huge": "bytes",
    }
    for name, words in expected.items():
        with pytest.raises(IssueValidationError) as raised:
            parse_issue(files[name], "x.yaml")
        assert words in str(raised.value), (name, str(raised.value))


def test_a_refused_value_is_shown_shortened() -> None:
    """A problem quotes at most a short prefix of a long refused value."""
    text = "date: [" + ", ".join(["'" + "y" * 50 + "'"] * 2000) + "]\n"
    with pytest.raises(IssueValidationError) as raised:
        parse_issue(text, "x.yaml")
    assert len(str(raised.value)) < 2000


def test_a_hostile_file_in_the_issues_folder_is_skipped_by_the_web_form(tmp_path: Path) -> None:
    """available_categories skips a bad file and still answers from the others."""
    folder = tmp_path / "issues"
    folder.mkdir()
    (folder / "2022-09-07.yaml").write_text(SAMPLE_ISSUE.read_text(encoding="utf-8"))
    for n, text in enumerate(hostile_files().values(), start=10):
        (folder / f"2022-10-{n}.yaml").write_text(text, encoding="utf-8")
    started = time.monotonic()
    assert set(available_categories(folder)) == {"LG", "CV", "CL", "AS", "RO"}
    assert time.monotonic() - started < 15


def test_load_issue_reads_no_more_than_the_limit(tmp_path: Path) -> None:
    """A file over the size limit is refused by its size, before it is parsed."""
    path = tmp_path / "2022-09-07.yaml"
    path.write_bytes(b"a: " + b"b" * 5_000_000)
    with pytest.raises(IssueValidationError, match="bytes"):
        load_issue(path)


@pytest.mark.e2e  # a whole campaign or process: `make test`, not test-fast
def test_a_worker_skips_a_campaign_whose_file_went_bad_and_sends_the_rest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`worker --once` says why it skips the bad campaign and still sends the good one."""
    from support.delivery import subscribe
    from support.sending import send_issue
    from typer.testing import CliRunner

    from newsletter.cli.main import app
    from newsletter.settings import get_settings

    monkeypatch.setenv("NEWSLETTER_MAX_SEND_RATE", "500")
    subscribe(os.environ["NEWSLETTER_DATABASE_URL"], 3)
    folder = tmp_path / "issues"
    folder.mkdir()
    monkeypatch.setenv("NEWSLETTER_ISSUES_DIR", str(folder))
    sample = SAMPLE_ISSUE.read_text(encoding="utf-8")
    good, bad = folder / "2022-09-07.yaml", folder / "2022-09-08.yaml"
    good.write_text(sample, encoding="utf-8")
    bad.write_text(sample.replace("2022-09-07", "2022-09-08"), encoding="utf-8")
    for path in (bad, good):
        send_issue(get_settings(), str(path), enqueue_only=True)
    bad.write_text(ALIAS_BOMB, encoding="utf-8")
    result = CliRunner().invoke(app, ["worker", "--once"])
    assert "Traceback" not in result.output + result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "campaign 2022-09-08: skipped" in result.stderr
    assert "aliases" in result.stderr
    assert "campaign 2022-09-07: done" in result.stdout
