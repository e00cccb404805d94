"""``make demo`` ends with the one command that serves what it made (``make demo-serve``):
the web app on the demo's database, key and issues, whose archive shows the sample issue."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from support.servers import free_port, running

ROOT = Path(__file__).resolve().parents[2]
DEMO_DB = "sqlite:///demo/newsletter.db"
# A stand-in for .venv/bin/newsletter: records each call's arguments and settings.
STUB = """#!/usr/bin/env bash
mkdir -p "$NEWSLETTER_OUTBOX_DIR" && touch demo/newsletter.db
printf '%s|%s|%s|%s|%s\\n' "$*" "$NEWSLETTER_DATABASE_URL" "$NEWSLETTER_ISSUES_DIR" \\
    "$NEWSLETTER_OUTBOX_DIR" "$NEWSLETTER_SECRET_KEY" >> calls.log
"""


def demo_copy(tmp_path: Path, newsletter: str | None) -> Path:
    """The repository's demo files in ``tmp_path/repo``, with ``newsletter`` as the command
    (None: the real one from this virtualenv)."""
    repo = tmp_path / "repo"
    repo.mkdir()
    for name in ("scripts", "issues", "samples"):
        shutil.copytree(ROOT / name, repo / name)
    for name in ("Makefile", "pyproject.toml"):
        shutil.copy(ROOT / name, repo / name)
    bin_dir = repo / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "python").symlink_to(sys.executable)
    if newsletter is None:
        (bin_dir / "newsletter").symlink_to(Path(sys.executable).with_name("newsletter"))
    else:
        (bin_dir / "newsletter").write_text(newsletter)
        (bin_dir / "newsletter").chmod(0o755)
    (bin_dir / ".installed").touch()  # newer than pyproject.toml: make installs nothing
    return repo


def clean_env() -> dict[str, str]:
    """This environment without the tests' NEWSLETTER_ settings: the demo's own defaults."""
    return {k: v for k, v in os.environ.items() if not k.startswith("NEWSLETTER_")}


def calls(repo: Path) -> list[list[str]]:
    return [line.split("|") for line in (repo / "calls.log").read_text().splitlines()]


def test_the_printed_serve_command_uses_the_demos_database_and_issues(tmp_path: Path) -> None:
    """The last line of ``make demo`` serves with the database, key and issues it sent with."""
    repo = demo_copy(tmp_path, STUB)
    demo = subprocess.run(["bash", "scripts/demo.sh"], cwd=repo, env=clean_env(),
                          capture_output=True, text=True, timeout=60)
    assert demo.returncode == 0, demo.stderr
    command = demo.stdout.splitlines()[-1]
    assert re.search(r"\bnewsletter serve$", command), command
    assert "make demo-serve" in demo.stdout
    [send] = [call for call in calls(repo) if call[0].startswith("send ")]
    assert send[1] == DEMO_DB

    # Run it as a reader would paste it (from the repository's root, a port added).
    subprocess.run(["bash", "-c", f"{command} --port 8123"], cwd=repo, env=clean_env(),
                   check=True, timeout=60)
    serve = calls(repo)[-1]
    assert serve[0] == "serve --port 8123"
    assert serve[1:] == send[1:]  # database, issues, outbox and key: the demo's own
    assert serve[2] == "issues"

    # `make demo-serve` runs the same.
    subprocess.run(["make", "-s", "demo-serve"], cwd=repo, env=clean_env(), check=True,
                   capture_output=True, timeout=60)
    assert calls(repo)[-1] == ["serve", *send[1:]]


def test_demo_serve_before_the_demo_says_to_run_it_first(tmp_path: Path) -> None:
    """Without a demo database, ``make demo-serve`` says to run ``make demo`` first."""
    repo = demo_copy(tmp_path, STUB)
    result = subprocess.run(["bash", "scripts/demo-serve.sh"], cwd=repo, env=clean_env(),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "make demo" in result.stderr
    assert not (repo / "calls.log").exists()


@pytest.mark.e2e
def test_the_demo_issue_is_in_the_archive_of_the_printed_command(tmp_path: Path) -> None:
    """The real demo, then its printed command: /archive/ lists the sample issue."""
    repo = demo_copy(tmp_path, None)
    demo = subprocess.run(["bash", "scripts/demo.sh"], cwd=repo, env=clean_env(),
                          capture_output=True, text=True, timeout=300)
    assert demo.returncode == 0, demo.stdout + demo.stderr
    command = demo.stdout.splitlines()[-1]
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    # `exec env ...`: the server is the process that `running` stops.
    with running(["bash", "-c", f"exec env {command} --port {port}"], clean_env(), repo,
                 f"{url}/healthz", tmp_path / "serve.log"):
        archive = httpx.get(f"{url}/archive/")
        assert archive.status_code == 200
        assert 'href="/issues/2022-09-07"' in archive.text or "/issues/2022-09-07" in archive.text
        assert httpx.get(f"{url}/issues/2022-09-07").status_code == 200
