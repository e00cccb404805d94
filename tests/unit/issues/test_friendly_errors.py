"""Problems in a hand-written issue file read as instructions, not as pydantic's or the YAML
parser's words: dates, authors, text that YAML reads as something else, mis-indented lines,
and references that look like a date but are none."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from newsletter.cli.main import app
from newsletter.errors import IssueFileError, IssueValidationError
from newsletter.issues.files import resolve
from newsletter.issues.loader import load_issue, parse_issue

BASE = """\
date: 2022-09-07
title: AI 前沿论文速递
categories:
  LG:
    zh: 机器学习
    en: Machine Learning
  CV: Computer Vision
featured:
- category: LG
  title: A Review of Sparse Expert Models
  authors:
  - W Fedus
  - J Dean
  affiliations:
  - Google
  abstract: Sparse expert models are a thirty-year old concept.
  url: https://arxiv.org/abs/2209.01667
notable:
- category: CV
  title: Facial Expression Translation
  authors: [H Tang]
  url: https://arxiv.org/abs/2209.02136
"""
NAME = "2022-09-07.yaml"


def edited(changes: dict[int, str]) -> str:
    """BASE with the numbered lines (1-based) replaced."""
    lines = BASE.splitlines()
    for number, text in changes.items():
        lines[number - 1] = text
    return "\n".join(lines) + "\n"


def problems(text: str) -> list[str]:
    with pytest.raises(IssueValidationError) as caught:
        parse_issue(text, NAME)
    return [str(p) for p in caught.value.problems]


def test_base_is_valid() -> None:
    """The file the cases below edit is itself valid, so each case has one fault."""
    assert parse_issue(BASE, NAME).date.isoformat() == "2022-09-07"


@pytest.mark.parametrize("line", [
    "date: '2022-09'",
    "date: next monday",
    "date: 2022-02-30",
    "date: 2022-13-01",
    "date: 20220907",
    "date: '1662508800'",
    "date: [2022-09-07]",
])
def test_a_bad_date_says_how_to_write_it(line: str) -> None:
    """Any date that is not one says "write the date as YYYY-MM-DD", at the date's line."""
    [problem] = problems(edited({1: line}))
    assert problem.startswith(f"{NAME}:1: date: ")
    assert "write the date as YYYY-MM-DD" in problem
    assert "input should" not in problem and "cannot be read" not in problem


def test_an_empty_date_says_how_to_write_it() -> None:
    """`date:` with nothing after it says the date is empty and how to write it."""
    assert problems(edited({1: "date:"})) == [
        f"{NAME}:1: date: is empty; write the date as YYYY-MM-DD"
    ]


def test_a_day_that_does_not_exist_is_named() -> None:
    """February 30 in the file is refused at the date's line, quoting it."""
    assert problems(edited({1: "date: 2022-02-30"})) == [
        f"{NAME}:1: date: '2022-02-30' is not a date; write the date as YYYY-MM-DD"
    ]


def test_authors_on_one_line_say_one_author_per_line() -> None:
    """Authors written as one text say: one author per line, each starting with "- "."""
    [problem] = problems(edited({11: "  authors: W Fedus, J Dean", 12: "  #", 13: "  #"}))
    assert problem == (
        f"{NAME}:11: featured[0].authors: must be a list: one author per line, each starting "
        "with \"- \" (got 'W Fedus, J Dean')"
    )


# Other pydantic messages a hand-written file reaches: (lines changed, expected problem).
READABLE: dict[str, tuple[dict[int, str], str]] = {
    "empty title": ({2: "title:"}, "2: title: is empty; fill it in"),
    "number as title": (
        {2: "title: 2022"}, "2: title: reads as a number (2022), not text: put it in quotes "
        "('...')"),
    "yes as title": (
        {2: "title: yes"}, "2: title: reads as true or false, not text: put it in quotes "
        "('...')"),
    "date as title": (
        {2: "title: 2022-09-07"}, "2: title: reads as a date, not text: put it in quotes "
        "('...')"),
    "list as text": (
        {16: "  abstract: [Sparse, experts]"}, "16: featured[0].abstract: is a list, not text: "
        "a value starting with [ must be quoted: put it in quotes ('...')"),
    "author with a colon": (
        {12: "  - W Fedus: Google"}, "12: featured[0].authors[0]: is a mapping (key: value), "
        "not text: a value containing ': ' must be quoted: put it in quotes ('...')"),
    "empty author": ({12: "  -"}, "12: featured[0].authors[0]: is empty; fill it in"),
    "affiliations on one line": (
        {14: "  affiliations: Google", 15: "  #"},
        "14: featured[0].affiliations: must be a list: one affiliation per line, each "
        "starting with \"- \" (got 'Google')"),
    "empty notable": (
        {18: "notable:", 19: "#", 20: "#", 21: "#", 22: "#"},
        "18: notable: is empty; list the papers under it, each starting with \"- \", or "
        "remove the line"),
    "paper that is a text": (
        {19: "- Facial Expression Translation", 20: "#", 21: "#", 22: "#"},
        "19: notable[0]: must be a paper: its fields (category:, title:, authors:, url:) "
        "indented under the \"- \""),
    "legend on one line": (
        {3: "categories: LG", 4: "#", 5: "#", 6: "#", 7: "#"},
        "3: categories: must be the category legend: one 'CODE: name' per line, indented "
        "under categories:"),
    "category name as a list": (
        {7: "  CV: [Vision]"},
        "7: categories.CV: must be a name, or en: and zh: names indented under it"),
    "number as a category code": (
        {7: "  12: Computer Vision"},
        "7: categories.12: 12 is not a category code (2-5 capital letters, e.g. LG)"),
    "authors_truncated not true or false": (
        {21: "  authors: [H Tang]\n  authors_truncated: maybe"},
        "22: notable[0].authors_truncated: must be true or false (got 'maybe')"),
    "empty url": ({17: "  url:"}, "17: featured[0].url: is empty; fill it in"),
}


@pytest.mark.parametrize("case", list(READABLE), ids=list(READABLE))
def test_pydantic_messages_read_as_instructions(case: str) -> None:
    """Each refused value says what to write, at its line and field, never "input should"."""
    changes, expected = READABLE[case]
    assert problems(edited(changes)) == [f"{NAME}:{expected}"]


def test_a_text_that_looks_like_an_impossible_date_is_text() -> None:
    """An impossible date where text is expected is that text, not a file that "cannot be read"."""
    assert parse_issue(edited({2: "title: 2022-02-30"}), NAME).title == "2022-02-30"


# -- YAML syntax: the fix for what the line shows ------------------------------------------


def syntax(text: str) -> str:
    [problem] = problems(text)
    assert "not valid YAML: " in problem
    return problem


def test_a_key_indented_too_far_says_to_line_it_up() -> None:
    """A key one space deeper than the one above is an indentation error, not a quoting one."""
    problem = syntax(edited({11: "   authors:"}))
    assert problem.startswith(f"{NAME}:11:")
    assert problem.endswith(
        "`authors:` on line 11 is indented with 3 spaces: line it up with `title:` on line 10 "
        "(2 spaces)"
    )
    assert "quote" not in problem


def test_a_title_key_indented_too_far_does_not_say_to_quote_the_title() -> None:
    """title_zh indented too far after an unquoted title says indentation, not quotes."""
    problem = syntax(edited({11: "   title_zh: 稀疏专家模型综述", 12: "  authors:",
                             13: "  - W Fedus"}))
    assert "quote" not in problem
    assert "line it up with `title:` on line 10 (2 spaces)" in problem


def test_a_key_indented_too_far_after_a_quoted_value_says_to_line_it_up() -> None:
    """After a quoted value the parser words it differently; the fix is the same."""
    problem = syntax(edited({10: "  title: 'A Review: Sparse Expert Models'",
                             11: "   authors:"}))
    assert problem.startswith(f"{NAME}:11:")
    assert "line it up with `title:` on line 10 (2 spaces)" in problem


def test_a_key_indented_too_little_names_both_places_it_may_belong() -> None:
    """A key between two levels names the key above on each level and its indentation."""
    problem = syntax(edited({6: "   en: Machine Learning"}))
    assert problem.startswith(f"{NAME}:6:")
    assert problem.endswith(
        "`en:` on line 6 is indented with 3 spaces: line it up with `zh:` on line 5 "
        "(4 spaces) or `LG:` on line 4 (2 spaces)"
    )


def test_a_list_item_indented_differently_says_to_line_up_the_dash() -> None:
    """A "- " indented unlike the others of its list says which one to line it up with."""
    problem = syntax(edited({12: "    - W Fedus", 13: "   - J Dean"}))
    assert problem.startswith(f"{NAME}:13:")
    assert problem.endswith('line up the "- " on line 13 with the one on line 12 (4 spaces)')


def test_a_colon_inside_a_value_still_says_to_quote_it() -> None:
    """`title: A: B` on a well-indented line keeps the quoting fix."""
    problem = syntax(edited({10: "  title: MO2: Model-Based Offline Options"}))
    assert problem == (
        f"{NAME}:10:13: not valid YAML: mapping values are not allowed here; a value "
        "containing ': ' must be quoted: put the title in quotes ('...')"
    )


def test_a_colon_in_a_continued_value_says_to_quote_it() -> None:
    """A text continued on the next line with ': ' in it is a quoting error, not indentation."""
    problem = syntax(edited({16: "  abstract: Sparse expert models are", 17: "    in short: old"}))
    assert "put the value in quotes" in problem


# -- files and references ----------------------------------------------------------------


def test_a_missing_file_is_no_such_file_without_a_line(tmp_path: Path) -> None:
    """Loading a file that is not there says "FILE: no such file; ...", with no line 0."""
    path = tmp_path / NAME
    with pytest.raises(IssueValidationError) as caught:
        load_issue(path)
    assert str(caught.value).startswith(f"{path}: no such file; ")


@pytest.mark.parametrize(("ref", "why"), [
    ("2026-02-30", "2026-02 has 28 days"), ("2026-13-45", "there is no month 13"),
])
def test_a_reference_that_looks_like_a_date_but_is_none_is_refused(ref: str, why: str) -> None:
    """resolve() refuses YYYY-MM-DD that is no calendar date, naming it."""
    with pytest.raises(IssueFileError) as caught:
        resolve(ref, Path("issues"))
    assert str(caught.value) == f"{ref} is not a date (YYYY-MM-DD): {why}"


def test_status_of_a_date_that_is_none_does_not_suggest_sending_it() -> None:
    """`status 2026-13-45` says it is not a date, and suggests no `send 2026-13-45`."""
    result = CliRunner().invoke(app, ["status", "2026-13-45"])
    assert result.exit_code == 1
    assert "2026-13-45 is not a date (YYYY-MM-DD)" in result.stderr
    assert "newsletter send" not in result.output


@pytest.mark.parametrize("command", [
    ("send", "2026-02-30", "--yes"), ("check", "2026-02-30"),
    ("send-test", "2026-02-30", "--to", "editor@example.org"),
], ids=" ".join)
def test_commands_on_a_date_that_is_none_say_so(command: tuple[str, ...]) -> None:
    """`send 2026-02-30` (and check, send-test) say it is not a date, not a missing file."""
    result = CliRunner().invoke(app, list(command))
    assert result.exit_code == 1
    assert "2026-02-30 is not a date (YYYY-MM-DD)" in result.stderr
    assert "no such file" not in result.output and "Traceback" not in result.output
