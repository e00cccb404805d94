"""A hostile digest gets `FILE:LINE: ...` quickly and nothing else (issue #24, item 9).

Runs of spaces made the parser's regexes quadratic (40 KB: 55 s), the whole file was read
whatever its size, and a U+0085 (NEXT LINE) in a line ended in a ValueError traceback.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from support.env import ROOT
from typer.testing import CliRunner

from newsletter.cli.main import app

DIGEST = ROOT / "tests" / "fixtures" / "digest-2022-09-07.txt"
SAMPLE = DIGEST.read_text("utf-8").split("\n")
SPACES = " " * 40_000
# Line numbers (1-based) in the sample: the first entry's title, authors, affiliations,
# Chinese summary, abstract; a notable entry's title.
NOTABLE = next(n for n, line in enumerate(SAMPLE, 1) if line.startswith("[CV]"))


def with_line(number: int, text: str) -> str:
    lines = list(SAMPLE)
    lines[number - 1] = text
    return "\n".join(lines)


def import_(tmp_path: Path, text: str | bytes) -> tuple[int, str, float]:
    source = tmp_path / "digest-2022-09-07.txt"
    if isinstance(text, bytes):
        source.write_bytes(text)
    else:
        source.write_text(text, "utf-8", newline="")
    started = time.monotonic()
    result = CliRunner().invoke(app, ["import-digest", str(source), "-o",
                                      str(tmp_path / "2022-09-07.yaml")])
    elapsed = time.monotonic() - started
    assert "Traceback" not in result.output + result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)
    return result.exit_code, result.stderr, elapsed


SPACED = {
    "authors": (5, "S Salter," + SPACES + "x"),
    "authors-before-comma": (5, "S Salter" + SPACES + "y, M Wulfmeier"),
    "truncated-authors": (5, "S Salter, M Wulfmeier" + SPACES + "x..."),
    "affiliations": (6, "[DeepMind" + SPACES + "x]"),
    "affiliations-semicolon": (6, "[DeepMind" + SPACES + "x;" + SPACES + "y]"),
    "title": (4, "1、[LG] MO2:" + SPACES + "Model-Based Offline Options"),
    "ellipses": (5, "S Salter" + "…" * 40_000 + "x"),
    "notable": (NOTABLE, SAMPLE[NOTABLE - 1] + SPACES + "x"),
}


@pytest.mark.parametrize("name", sorted(SPACED))
def test_runs_of_spaces_are_parsed_in_linear_time(tmp_path: Path, name: str) -> None:
    """40,000 spaces in a line are read in well under the 55 s they once took."""
    number, text = SPACED[name]
    code, stderr, elapsed = import_(tmp_path, with_line(number, text))
    assert elapsed < 5, elapsed
    assert code == 0 or stderr.startswith(f"{tmp_path / 'digest-2022-09-07.txt'}:"), stderr


@pytest.mark.parametrize("char", ["\x85", "\u2028", "\x00", "\x1b", "\ufffe"])
@pytest.mark.parametrize("number", [2, 3, 4, NOTABLE])
def test_a_control_character_is_named_by_file_and_line(
    tmp_path: Path, char: str, number: int
) -> None:
    """A control character (NEL, LINE SEPARATOR, NUL, ESC, a noncharacter) anywhere is
    reported at its line, with what to do, and nothing is written."""
    line = SAMPLE[number - 1]
    code, stderr, _ = import_(tmp_path, with_line(number, line[:3] + char + line[3:]))
    assert code == 1
    [message] = stderr.splitlines()
    assert message.startswith(f"{tmp_path / 'digest-2022-09-07.txt'}:{number}: "), message
    assert f"U+{ord(char):04X}" in message
    assert not (tmp_path / "2022-09-07.yaml").exists()


def test_a_huge_file_is_refused_by_its_size_before_it_is_read(tmp_path: Path) -> None:
    """A 400 MB digest (sparse: no disk used) is refused at once, naming the limit."""
    source = tmp_path / "digest-2022-09-07.txt"
    source.write_bytes(b"")
    os.truncate(source, 400 * 1024 * 1024)
    started = time.monotonic()
    result = CliRunner().invoke(app, ["import-digest", str(source), "-o",
                                      str(tmp_path / "2022-09-07.yaml")])
    assert time.monotonic() - started < 5
    assert result.exit_code == 1
    [message] = result.stderr.splitlines()
    assert message.startswith(f"{source}:1: ") and "bytes" in message, message


def test_bad_utf8_is_named_at_its_line(tmp_path: Path) -> None:
    """An undecodable byte on line 5 is reported on line 5."""
    text = "\n".join(SAMPLE).encode("utf-8")
    at = text.index(SAMPLE[4].encode("utf-8"))
    code, stderr, _ = import_(tmp_path, text[:at] + b"\xff" + text[at:])
    assert code == 1
    assert stderr.startswith(f"{tmp_path / 'digest-2022-09-07.txt'}:5: "), stderr
