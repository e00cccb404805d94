"""Issue files: the sample is valid, and every kind of mistake is reported at its line."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from newsletter.cli.main import app
from newsletter.errors import IssueValidationError
from newsletter.issues.loader import load_issue

# A small valid issue. The bad files below change single lines of it, so every line
# number in the expectations can be checked against this listing.
BASE = """\
date: 2022-09-07
title: AI 前沿论文速递 · 2022-09-07
title_en: AI Paper Digest · 2022-09-07
categories:
  LG:
    zh: 机器学习
    en: Machine Learning
  CV: Computer Vision
featured:
- category: LG
  title: 'MO2: Model-Based Offline Options'
  title_zh: 'MO2: 基于模型的离线选项'
  authors:
  - S Salter
  - M Wulfmeier
  affiliations:
  - DeepMind
  summary_zh: 从过去的经验中发现有用的行为。
  abstract: The ability to discover useful behaviours from past experience.
  url: https://arxiv.org/abs/2209.01947
- category: CV
  title: Facial Expression Translation using Landmark Guided GANs
  authors:
  - H Tang
  abstract: Facial expression translation is hard.
  url: https://arxiv.org/abs/2209.02136
notable:
- category: LG
  title: 'HammingMesh: A Network Topology for Large-Scale Deep Learning'
  authors:
  - T Hoefler
  url: https://arxiv.org/abs/2209.01346
footer: 内容中包含的图片若涉及版权问题,请及时与我们联系删除
"""
NAME = "2022-09-07.yaml"


def edited(changes: dict[int, str]) -> str:
    """BASE with the numbered lines (1-based) replaced."""
    lines = BASE.splitlines()
    for number, text in changes.items():
        lines[number - 1] = text
    return "\n".join(lines) + "\n"


def many_notable(count: int) -> str:
    """BASE with ``count`` distinct notable papers instead of one (they start on line 28)."""
    head = BASE.split("notable:\n")[0] + "notable:\n"
    papers = "".join(
        f"- category: LG\n  title: Paper {n}\n  authors: [A Author]\n"
        f"  url: https://arxiv.org/abs/2209.{10000 + n}\n"
        for n in range(count)
    )
    return head + papers


@dataclass(frozen=True)
class Bad:
    """A bad issue file and the one problem it must produce."""

    content: str | bytes
    line: int
    field: str
    message: str
    name: str = NAME
    column: int | None = None  # syntax errors are placed at a column too


LONG = "x" * 301
BAD_FILES: dict[str, Bad] = {
    "url scheme": Bad(
        edited({20: "  url: htp://arxiv.org/abs/2209.01947"}), 20, "featured[0].url",
        "not an arXiv abstract link: 'htp://arxiv.org/abs/2209.01947'; "
        "write https://arxiv.org/abs/ID",
    ),
    "non-arXiv host": Bad(
        edited({26: "  url: https://arxiv.example.org/abs/2209.02136"}), 26, "featured[1].url",
        "not an arXiv abstract link: 'https://arxiv.example.org/abs/2209.02136'; "
        "write https://arxiv.org/abs/ID",
    ),
    "bad arXiv id": Bad(
        edited({32: "  url: https://arxiv.org/abs/2209.013"}), 32, "notable[0].url",
        "not an arXiv abstract link: 'https://arxiv.org/abs/2209.013'; "
        "write https://arxiv.org/abs/ID",
    ),
    "query string on link": Bad(
        edited({20: "  url: https://arxiv.org/abs/2209.01947?context=cs"}), 20, "featured[0].url",
        "not an arXiv abstract link: 'https://arxiv.org/abs/2209.01947?context=cs'; "
        "write https://arxiv.org/abs/ID",
    ),
    "unknown category": Bad(
        edited({21: "- category: RO"}), 21, "featured[1].category",
        "'RO' is not in the category legend (CV, LG); add it under categories or fix the code",
    ),
    "duplicate paper across featured and notable": Bad(
        edited({32: "  url: https://arxiv.org/abs/2209.01947v2"}), 32, "notable[0].url",
        "https://arxiv.org/abs/2209.01947v2 is already in this issue at featured[0]; "
        "remove one of them",
    ),
    "C0 control character": Bad(
        edited({22: '  title: "Facial\\x07 Expression"'}), 22, "featured[1].title",
        "contains the control character U+0007; remove it",
    ),
    "C1 control character": Bad(
        edited({11: '  title: "MO2:\\x9b Options"'}), 11, "featured[0].title",
        "contains the control character U+009B; remove it",
    ),
    "raw control character in the file": Bad(
        edited({29: "  title: Hamming\x01Mesh"}), 29, "notable[0].title",
        "contains the control character U+0001 at column 17; remove it",
    ),
    "raw NEL in the file": Bad(
        edited({31: "  - T\x85Hoefler"}), 31, "notable[0].authors[0]",
        "contains the control character U+0085 at column 6; remove it",
    ),
    "missing required field": Bad(
        edited({25: "  affiliations: [University of Trento]"}), 21, "featured[1].abstract",
        "is required; add it",
    ),
    "unknown field": Bad(
        edited({12: "  subtitle: 基于模型的离线选项"}), 12, "featured[0].subtitle",
        "is not a known field; check the spelling or remove it",
    ),
    "key given twice": Bad(
        edited({3: "title: AI Paper Digest"}), 3, "title",
        "is given twice (first on line 2); keep one of them",
    ),
    "empty authors": Bad(
        edited({30: "  authors: []", 31: "  # nobody"}), 30, "notable[0].authors",
        "must not be empty",
    ),
    "empty author name": Bad(
        edited({15: "  - ''"}), 15, "featured[0].authors[1]", "must not be empty",
    ),
    "over-long title": Bad(
        edited({22: f"  title: {LONG}"}), 22, "featured[1].title",
        "is too long (at most 300 characters); shorten it",
    ),
    "multi-line title": Bad(
        edited({29: '  title: "HammingMesh:\\nA Network Topology"'}), 29, "notable[0].title",
        "must be a single line; join the lines",
    ),
    "date not matching the file name": Bad(
        edited({1: "date: 2022-09-08"}), 1, "date",
        "2022-09-08 does not match the file name; name the file 2022-09-08.yaml or fix the date",
    ),
    "date and time instead of a date": Bad(
        edited({1: "date: 2022-09-07 08:00:00"}), 1, "date",
        "must be a date (YYYY-MM-DD), not a date and time",
    ),
    "midnight date and time, another day": Bad(
        edited({1: "date: 2022-09-08 00:00:00"}), 1, "date",
        "must be a date (YYYY-MM-DD), not a date and time",
    ),
    "not YAML": Bad(
        edited({22: "  title: [Facial Expression"}), 23, "",
        "not valid YAML: expected ',' or ']', but got ':' "
        "(while parsing a flow sequence that starts on line 22); a value starting with [ or { "
        "must be quoted: put it in quotes ('...')", column=10,
    ),
    "YAML list at the root": Bad(
        "- date: 2022-09-07\n- title: x\n", 1, "",
        "an issue file must be a YAML mapping (date:, title:, ...)",
    ),
    "not UTF-8": Bad(
        edited({22: "  title: Facial Expression Translation"}).encode("utf-8").replace(
            b"Facial", b"Fa\xe7ial"
        ),
        22, "", "is not UTF-8 text; save the file as UTF-8",
    ),
    "bad category code in the legend": Bad(
        edited({8: "  cv: Computer Vision"}), 8, "categories.cv",
        "'cv' is not a category code (2-5 capital letters, e.g. LG)",
    ),
    "bad category code on a paper": Bad(
        edited({10: "- category: L1"}), 10, "featured[0].category",
        "'L1' is not a category code (2-5 capital letters, e.g. LG)",
    ),
    "legend entry with neither en nor zh": Bad(
        edited({8: "  CV: {}"}), 8, "categories.CV", "give the name in en, zh or both",
    ),
    "too many papers": Bad(
        many_notable(201), 27, "notable", "has 201 entries, at most 200 are allowed; remove some",
    ),
    "abstract is not text": Bad(
        edited({25: "  abstract: [Facial, expression]"}), 25, "featured[1].abstract",
        "is a list, not text: a value starting with [ must be quoted: put it in quotes ('...')",
    ),
    "authors_truncated not a boolean": Bad(
        edited({23: "  authors: [H Tang]", 24: "  authors_truncated: maybe"}),
        24, "featured[1].authors_truncated",
        "must be true or false (got 'maybe')",
    ),
}


def write(tmp_path: Path, content: str | bytes, name: str = NAME) -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


def problems_of(path: Path) -> list[str]:
    with pytest.raises(IssueValidationError) as caught:
        load_issue(path)
    return [str(p) for p in caught.value.problems]


def test_sample_issue_is_valid(sample_issue_path: Path) -> None:
    """The transcribed sample digest validates, with all 5 featured and 4 notable papers."""
    issue = load_issue(sample_issue_path)
    assert (len(issue.featured), len(issue.notable)) == (5, 4)
    assert issue.featured[4].authors_truncated
    assert issue.featured[2].url == "https://arxiv.org/abs/2209.02535"


def test_base_of_the_bad_files_is_valid(tmp_path: Path) -> None:
    """The file the bad cases are edited from is itself valid (so each case has one fault)."""
    issue = load_issue(write(tmp_path, BASE))
    assert [p.arxiv_id for p in issue.papers] == ["2209.01947", "2209.02136", "2209.01346"]
    assert load_issue(write(tmp_path, many_notable(200))).notable[199].title == "Paper 199"


@pytest.mark.parametrize("case", list(BAD_FILES), ids=list(BAD_FILES))
def test_bad_file_reports_line_field_and_message(case: str, tmp_path: Path) -> None:
    """Each kind of mistake gives exactly one FILE:LINE: FIELD: MESSAGE at the right place."""
    bad = BAD_FILES[case]
    path = write(tmp_path, bad.content, bad.name)
    place = f"{path}:{bad.line}" + (f":{bad.column}" if bad.column else "")
    where = f"{place}: {bad.field}: " if bad.field else f"{place}: "
    assert problems_of(path) == [where + bad.message]


def test_there_are_at_least_twenty_distinct_bad_files() -> None:
    """The table above covers at least 20 different files (no case counted twice)."""
    assert len({b.content for b in BAD_FILES.values()}) == len(BAD_FILES) >= 20


def test_all_problems_are_reported_at_once_in_line_order(tmp_path: Path) -> None:
    """A file with three independent mistakes gets three lines, sorted by line number."""
    path = write(tmp_path, edited({
        11: f"  title: {LONG}",
        20: "  url: htp://arxiv.org/abs/2209.01947",
        24: "  - ''",
    }))
    assert problems_of(path) == [
        f"{path}:11: featured[0].title: is too long (at most 300 characters); shorten it",
        f"{path}:20: featured[0].url: not an arXiv abstract link: "
        "'htp://arxiv.org/abs/2209.01947'; write https://arxiv.org/abs/ID",
        f"{path}:24: featured[1].authors[0]: must not be empty",
    ]


def test_cross_field_problems_are_reported_together(tmp_path: Path) -> None:
    """Unknown category, a duplicate paper and a wrong date are all reported in one run."""
    path = write(tmp_path, edited({
        1: "date: 2022-09-06",
        21: "- category: RO",
        32: "  url: http://arxiv.org/pdf/2209.02136.pdf",
    }))
    assert [p.split(": ")[0:2] for p in problems_of(path)] == [
        [f"{path}:1", "date"],
        [f"{path}:21", "featured[1].category"],
        [f"{path}:32", "notable[0].url"],
    ]


@pytest.mark.parametrize(
    ("written", "canonical", "arxiv_id"),
    [
        ("https://arxiv.org/abs/2209.01947", "https://arxiv.org/abs/2209.01947", "2209.01947"),
        ("https://arxiv.org/abs/2209.01947v2", "https://arxiv.org/abs/2209.01947v2", "2209.01947"),
        ("http://arxiv.org/abs/2209.01947", "https://arxiv.org/abs/2209.01947", "2209.01947"),
        ("https://arxiv.org/pdf/2209.01947.pdf", "https://arxiv.org/abs/2209.01947", "2209.01947"),
        ("https://arxiv.org/pdf/2209.01947v3", "https://arxiv.org/abs/2209.01947v3", "2209.01947"),
        ("https://www.arxiv.org/abs/1501.00001", "https://arxiv.org/abs/1501.00001", "1501.00001"),
        ("arxiv.org/abs/0704.0001", "https://arxiv.org/abs/0704.0001", "0704.0001"),
        ("https://arxiv.org/abs/cs/0112017", "https://arxiv.org/abs/cs/0112017", "cs/0112017"),
        ("http://arxiv.org/abs/math.GT/0309136v1", "https://arxiv.org/abs/math.GT/0309136v1",
         "math.GT/0309136"),
        ("https://arxiv.org/abs/solv-int/9901001", "https://arxiv.org/abs/solv-int/9901001",
         "solv-int/9901001"),
    ],
)
def test_arxiv_links_are_normalised(
    written: str, canonical: str, arxiv_id: str, tmp_path: Path
) -> None:
    """New- and old-style ids, versions, http and PDF links become https://arxiv.org/abs/ID."""
    issue = load_issue(write(tmp_path, edited({20: f"  url: {written}"})))
    assert issue.featured[0].url == canonical
    assert issue.featured[0].arxiv_id == arxiv_id


def test_old_style_ids_in_one_archive_are_different_papers(tmp_path: Path) -> None:
    """Two old-style ids from an archive whose name contains "v" are not duplicates."""
    issue = load_issue(write(tmp_path, edited({
        20: "  url: https://arxiv.org/abs/solv-int/9901001",
        26: "  url: https://arxiv.org/abs/solv-int/9902002",
    })))
    assert [p.arxiv_id for p in issue.featured] == ["solv-int/9901001", "solv-int/9902002"]


def test_windows_line_endings_keep_line_numbers(tmp_path: Path) -> None:
    """A file saved with CRLF line endings validates, and its errors point at the same lines."""
    assert load_issue(write(tmp_path, BASE.replace("\n", "\r\n"))).title_en
    bad = edited({26: "  url: htp://arxiv.org/abs/2209.02136"}).replace("\n", "\r\n")
    assert problems_of(write(tmp_path, bad))[0].startswith(f"{tmp_path / NAME}:26: featured[1].url")


def test_validate_command_prints_every_problem_and_exits_1(tmp_path: Path) -> None:
    """`newsletter validate` lists the problems of every file on stderr and exits 1."""
    first = write(tmp_path, edited({21: "- category: RO"}))
    (tmp_path / "other").mkdir()
    second = write(tmp_path / "other", edited({1: "date: 2022-09-07 08:00:00"}))
    result = CliRunner().invoke(app, ["validate", str(first), str(second)])
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"{first}:21: featured[1].category: 'RO' is not in the category legend (CV, LG); "
        "add it under categories or fix the code",
        f"{second}:1: date: must be a date (YYYY-MM-DD), not a date and time",
        "2 problem(s) found",
    ]


def test_validate_command_accepts_the_sample(sample_issue_path: Path) -> None:
    """`newsletter validate` on the sample exits 0 and says the file is valid."""
    result = CliRunner().invoke(app, ["validate", str(sample_issue_path)])
    assert result.exit_code == 0, result.output
    assert "1 file(s) valid" in result.stdout


def test_validate_command_reports_a_missing_file(tmp_path: Path) -> None:
    """A path that does not exist is a clear one-line error, not a traceback."""
    result = CliRunner().invoke(app, ["validate", str(tmp_path / "2022-01-01.yaml")])
    assert result.exit_code == 1
    assert f"{tmp_path / '2022-01-01.yaml'}: no such file; " in result.stderr
    assert "Traceback" not in result.output


def test_six_mistakes_in_one_file_are_all_reported_in_one_run(tmp_path: Path) -> None:
    """A raw control byte does not hide the model's or the cross-field problems: all six at once."""
    path = write(tmp_path, edited({
        1: "date: 2022-09-08",
        20: "  url: htp://arxiv.org/abs/2209.01947",
        22: "  title: Facial\x0bExpression Translation",
        25: "  affiliations: [University of Trento]",
        28: "- category: XX",
        32: "  url: https://arxiv.org/abs/2209.02136v2",
    }))
    assert problems_of(path) == [
        f"{path}:1: date: 2022-09-08 does not match the file name; "
        "name the file 2022-09-08.yaml or fix the date",
        f"{path}:20: featured[0].url: not an arXiv abstract link: "
        "'htp://arxiv.org/abs/2209.01947'; write https://arxiv.org/abs/ID",
        f"{path}:21: featured[1].abstract: is required; add it",
        f"{path}:22: featured[1].title: contains the control character U+000B at column 16; "
        "remove it",
        f"{path}:28: notable[0].category: 'XX' is not in the category legend (CV, LG); "
        "add it under categories or fix the code",
        f"{path}:32: notable[0].url: https://arxiv.org/abs/2209.02136v2 is already in this "
        "issue at featured[1]; remove one of them",
    ]


def test_raw_control_characters_are_located_in_their_field(tmp_path: Path) -> None:
    """Each raw control character names the deepest field on its line, even in a flow list."""
    path = write(tmp_path, edited({
        5: "\x01 LG:",
        15: "  - [M Wulfmeier, X\x02]",
        29: "  title: 'HammingMesh:\u2028A Network Topology'",
    }))
    assert problems_of(path) == [
        f"{path}:5: categories.LG: contains the control character U+0001 at column 1; remove it",
        f"{path}:15: featured[0].authors[1][1]: contains the control character U+0002 at "
        "column 20; remove it",
        f"{path}:15: featured[0].authors[1]: is a list, not text: a value starting with [ "
        "must be quoted: put it in quotes ('...')",
        f"{path}:29: notable[0].title: contains the control character U+2028 at column 23; "
        "remove it",
    ]


def test_control_character_in_a_file_that_does_not_parse_is_reported_alone(
    tmp_path: Path,
) -> None:
    """When the text is not YAML even with the character read as a space, only it is reported."""
    path = write(tmp_path, edited({11: "  title: MO2\x07", 22: "  title: [Facial Expression"}))
    assert problems_of(path) == [
        f"{path}:11: contains the control character U+0007 at column 13; remove it",
    ]


def test_cross_checks_skip_fields_the_model_refused(tmp_path: Path) -> None:
    """A refused link is not also a duplicate, nor a refused code unknown; dates still compare."""
    path = write(tmp_path, edited({
        1: "date: '2022-09-08'",
        20: "  url: htp://arxiv.org/abs/2209.02136",
        28: "- category: l1",
    }))
    assert problems_of(path) == [
        f"{path}:1: date: 2022-09-08 does not match the file name; "
        "name the file 2022-09-08.yaml or fix the date",
        f"{path}:20: featured[0].url: not an arXiv abstract link: "
        "'htp://arxiv.org/abs/2209.02136'; write https://arxiv.org/abs/ID",
        f"{path}:28: notable[0].category: 'l1' is not a category code (2-5 capital letters, "
        "e.g. LG)",
    ]


def test_cross_checks_run_on_the_rest_of_a_refused_file(tmp_path: Path) -> None:
    """A broken legend or a paper that is not a mapping leaves the duplicate check running."""
    path = write(tmp_path, edited({
        8: "  cv: Computer Vision",
        21: "- just a title",
        **{line: "  # removed" for line in range(22, 27)},
        32: "  url: https://arxiv.org/pdf/2209.01947.pdf",
    }))
    assert problems_of(path) == [
        f"{path}:8: categories.cv: 'cv' is not a category code (2-5 capital letters, e.g. LG)",
        f"{path}:21: featured[1]: must be a paper: its fields (category:, title:, authors:, "
        "url:) indented under the \"- \"",
        f"{path}:32: notable[0].url: https://arxiv.org/abs/2209.01947 is already in this "
        "issue at featured[0]; remove one of them",
    ]
