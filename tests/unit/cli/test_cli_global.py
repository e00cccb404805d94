"""The root command: --version, -h, --quiet/--verbose, log timestamps, help text, exit codes."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.delivery import subscribe
from support.env import SAMPLE_ISSUE
from typer.main import get_command
from typer.testing import CliRunner

from newsletter import __version__
from newsletter.cli.main import app
from newsletter.cli.output import configure_logging

# What typer's own help would show: a Python type in angle brackets, or {name} in usage.
_TYPER_NOISE = re.compile(r"<(?:str|int|float|bool|path|list\[[^\]]*\])>|\{[a-z_]+\}")
_STAMP = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2},\d{3} INFO ")
NEWSLETTER = str(Path(sys.executable).parent / "newsletter")


def run(*args: str) -> object:
    return CliRunner().invoke(app, list(args))


def _command_paths() -> list[tuple[str, ...]]:
    """Every command and sub-command, as the words that name it."""
    paths: list[tuple[str, ...]] = []

    def walk(command: object, prefix: tuple[str, ...]) -> None:
        children = getattr(command, "commands", None)
        if not children:
            paths.append(prefix)
            return
        for name, child in children.items():
            walk(child, (*prefix, name))

    walk(get_command(app), ())
    return paths


def test_version_prints_the_package_version() -> None:
    """--version prints "newsletter X.Y.Z" and exits 0."""
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"newsletter {__version__}"


@pytest.mark.parametrize("words", _command_paths(), ids=" ".join)
def test_every_command_has_short_help_and_plain_argument_names(words: tuple[str, ...]) -> None:
    """-h is --help; arguments read ISSUE or PATH..., never {issue} or <list[Path]>."""
    long = CliRunner().invoke(app, [*words, "--help"])
    short = CliRunner().invoke(app, [*words, "-h"])
    assert long.exit_code == 0 and short.stdout == long.stdout
    assert not _TYPER_NOISE.search(long.stdout), long.stdout


def test_arguments_show_in_capitals() -> None:
    """The usage lines name arguments as the README does."""
    send = CliRunner().invoke(app, ["send", "-h"]).stdout
    assert "send [OPTIONS] [ISSUE]\n" in send  # optional: --today names it
    validate = CliRunner().invoke(app, ["validate", "-h"]).stdout
    assert "validate [OPTIONS] PATH...\n" in validate


@pytest.mark.parametrize(
    "args",
    [
        ("build", str(SAMPLE_ISSUE), "--language", "fr"),
        ("subscribers", "list", "--status", "gone"),
        ("subscribers", "add", "a@example.org", "--language", "fr"),
        ("send", "2022-09-07", "--nonsense"),
        ("--quiet", "--verbose", "validate", str(SAMPLE_ISSUE)),
    ],
)
def test_a_bad_option_value_exits_2(args: tuple[str, ...]) -> None:
    """Every bad option value exits with status 2, as click's own usage errors do."""
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 2, result.output


def _send(tmp_path: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    subscribe(os.environ["NEWSLETTER_DATABASE_URL"], 5)
    return subprocess.run(
        [NEWSLETTER, *flags, "send", str(SAMPLE_ISSUE), "--yes"],
        capture_output=True, text=True, check=False, cwd=tmp_path,
    )


@pytest.mark.e2e  # a whole `newsletter send` process
def test_log_lines_off_a_terminal_carry_timestamps(tmp_path: Path) -> None:
    """Piped to a file, each progress line starts with a timestamp and its level."""
    result = _send(tmp_path)
    assert result.returncode == 0, result.stderr
    progress = [line for line in result.stderr.splitlines() if "2022-09-07:" in line]
    assert progress, result.stderr
    assert all(_STAMP.match(line) for line in progress), progress


@pytest.mark.e2e  # a whole `newsletter send` process
def test_quiet_hides_progress_but_not_the_summary(tmp_path: Path) -> None:
    """--quiet leaves stderr without progress lines; the summary still goes to stdout."""
    result = _send(tmp_path, "--quiet")
    assert result.returncode == 0, result.stderr
    assert "to go" not in result.stderr
    assert "campaign 2022-09-07: done" in result.stdout


def test_terminal_log_lines_are_plain(capsys: pytest.CaptureFixture[str]) -> None:
    """On a terminal, log lines are the message alone (the screen shows the time)."""
    import logging

    configure_logging(0, tty=True)
    logging.getLogger("newsletter.cli").info("hello")
    assert capsys.readouterr().err == "hello\n"
    configure_logging(-1, tty=True)
    logging.getLogger("newsletter.cli").info("hidden")
    assert capsys.readouterr().err == ""


@pytest.mark.e2e  # a whole `newsletter send` process
def test_answering_no_at_the_send_prompt_sends_nothing_and_exits_0(tmp_path: Path) -> None:
    """At a terminal, `n` at the confirmation question: "nothing sent", exit status 0."""
    subscribe(os.environ["NEWSLETTER_DATABASE_URL"], 3)
    main, child = os.openpty()
    process = subprocess.Popen(
        [NEWSLETTER, "send", str(SAMPLE_ISSUE)],
        stdin=child, stdout=child, stderr=child, cwd=tmp_path, close_fds=True,
    )
    os.close(child)
    seen = b""
    deadline = time.monotonic() + 30
    while b"[y/N]" not in seen and time.monotonic() < deadline:
        seen += os.read(main, 4096)
    os.write(main, b"n\n")
    code = process.wait(timeout=30)
    try:
        while chunk := os.read(main, 4096):
            seen += chunk
    except OSError:  # the terminal closes with the process
        pass
    os.close(main)
    assert code == 0, seen
    assert b"nothing sent" in seen
    assert not (tmp_path / "outbox").exists() or not any((tmp_path / "outbox").iterdir())
