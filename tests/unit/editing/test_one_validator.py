"""One set of validators: `validate` reports every problem with the file that `check` does,
in the same words and at the same place; `check` adds only the preflight (rendering, sizes,
links, repeats). A missing file is said to be missing, in every command that reads one."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.env import SAMPLE_ISSUE
from typer.testing import CliRunner, Result

from newsletter import wiring
from newsletter.cli.main import app
from newsletter.editing.build import validate
from newsletter.editing.preflight import IssueSource, preflight
from newsletter.settings import get_settings

SAMPLE = SAMPLE_ISSUE.read_text("utf-8")


def run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def line_of(needle: str) -> int:
    return next(n for n, line in enumerate(SAMPLE.split("\n"), 1) if needle in line)


def edited(changes: dict[str, str]) -> str:
    """The sample issue with the lines holding each key replaced by its value."""
    lines = SAMPLE.split("\n")
    for needle, line in changes.items():
        lines[line_of(needle) - 1] = line
    return "\n".join(lines)


def issue_file(text: str, date: str = "2022-09-07") -> Path:
    folder = Path("issues")
    folder.mkdir(exist_ok=True)
    path = folder / f"{date}.yaml"
    path.write_text(text, "utf-8")
    return path


def check_errors(path: Path) -> list[str]:
    """`check`'s errors, each as `validate` would print it (without the "error: ")."""
    settings = get_settings()
    report = preflight(IssueSource.read(path), wiring.renderer(settings),
                       wiring.preflight_config(settings))
    return [str(finding).removeprefix("error: ") for finding in report.errors]


MO2_TITLE = "title: 'MO2: Model-Based Offline Options'"
MO2_URL = "url: https://arxiv.org/abs/2209.01947"
# Files with a problem of the file itself, each with a word its message must hold.
BAD: dict[str, tuple[str, str]] = {
    "arXiv ID with month 13": (
        edited({MO2_URL: "  url: https://arxiv.org/abs/2213.01947"}),
        "2213.01947 cannot be an arXiv ID: month 13 does not exist",
    ),
    "arXiv ID from after the issue": (
        edited({MO2_URL: "  url: https://arxiv.org/abs/2301.00001"}),
        "it is from 2023-01, after the issue's date",
    ),
    "unquoted colon in a title": (
        edited({MO2_TITLE: "  title: MO2: Model-Based Offline Options"}),
        "put the title in quotes ('...')",
    ),
    "unclosed quote": (
        edited({MO2_TITLE: "  title: 'MO2: Model-Based Offline Options"}),
        "is not closed: close it",
    ),
    "alias to nothing": (
        edited({MO2_TITLE: "  title: *MO2 Model-Based Offline Options"}),
        "a value starting with @, `, * or & must be quoted",
    ),
    "TODO left": (
        edited({"title_zh: 深度学习稀疏专家模型综述": "  title_zh: 'TODO: 中文标题'"}),
        "a TODO is left; fill it in",
    ),
    "category not in the legend": (
        edited({"- category: CL": "- category: NLP"}), "is not in the category legend",
    ),
}


@pytest.mark.parametrize("case", list(BAD), ids=list(BAD))
def test_validate_reports_what_check_reports_about_the_file(case: str) -> None:
    """`validate` and `check` give the same lines for a problem with the file itself."""
    text, words = BAD[case]
    path = issue_file(text)
    problems = [str(p) for p in validate([path])]
    assert problems == check_errors(path)
    assert len(problems) == 1 and words in problems[0], problems


def test_validate_refuses_an_arxiv_id_with_month_13() -> None:
    """`newsletter validate` exits 1 on a link to an arXiv ID with month 13, naming its line."""
    path = issue_file(edited({MO2_URL: "  url: https://arxiv.org/abs/2213.01947"}))
    result = run("validate", str(path))
    assert result.exit_code == 1, result.output
    assert (
        f"{path}:{line_of(MO2_URL)}: featured[0].url: 2213.01947 cannot be an arXiv ID: "
        "month 13 does not exist (YYMM.NNNNN, month 01-12)"
    ) in result.stderr


def test_validate_gives_yaml_errors_with_line_column_and_the_fix() -> None:
    """`newsletter validate` prints a syntax error as FILE:LINE:COLUMN with the usual fix."""
    path = issue_file(edited({MO2_TITLE: "  title: MO2: Model-Based Offline Options"}))
    result = run("validate", str(path))
    assert result.exit_code == 1
    assert (
        f"{path}:{line_of(MO2_TITLE)}:13: not valid YAML: mapping values are not allowed "
        "here; a value containing ': ' must be quoted: put the title in quotes ('...')"
    ) in result.stderr


def test_check_says_indentation_for_a_mis_indented_line() -> None:
    """`check` on a key indented one space too far says to line it up, not to add quotes."""
    title = "title: A Review of Sparse Expert Models in Deep Learning"
    path = issue_file(edited({"title_zh: 深度学习稀疏专家模型综述":
                              "   title_zh: 深度学习稀疏专家模型综述"}))
    [error] = check_errors(path)
    assert "quotes" not in error
    assert f"line it up with `title:` on line {line_of(title)} (2 spaces)" in error
    assert [str(p) for p in validate([path])] == [error]


def test_check_reports_the_preflight_on_top_of_validate() -> None:
    """What `check` adds to a file `validate` passes is the preflight: here a size warning."""
    path = issue_file(SAMPLE)
    assert validate([path]) == []
    assert check_errors(path) == []
    result = run("check", str(path))
    assert result.exit_code == 0 and "bytes of HTML" in result.stdout


MISSING = "issues/2022-01-01.yaml: no such file; "


@pytest.mark.parametrize("command", [
    ("validate", "issues/2022-01-01.yaml"),
    ("check", "issues/2022-01-01.yaml"),
    ("check", "2022-01-01"),
    ("build", "issues/2022-01-01.yaml"),
    ("send", "issues/2022-01-01.yaml", "--yes"),
    ("send", "2022-01-01", "--yes"),
    ("send-test", "2022-01-01", "--to", "editor@example.org"),
], ids=" ".join)
def test_a_missing_file_is_said_to_be_missing(command: tuple[str, ...]) -> None:
    """A missing issue file is "FILE: no such file; ...", never FILE:0:, in every command."""
    Path("issues").mkdir()
    result = run(*command)
    assert result.exit_code == 1, result.output
    assert MISSING in result.stderr, result.stderr
    assert ":0:" not in result.output
    assert "Traceback" not in result.output
