"""Importing the plaintext daily digest: the sample gives the committed issue file, variants of
the layout import the same, and unreadable blocks are named by line with nothing written."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml
from support.env import ROOT, SAMPLE_ISSUE
from typer.testing import CliRunner, Result

from newsletter.cli.main import app
from newsletter.editing.digest_import import import_digest
from newsletter.editing.digest_parse import parse_digest
from newsletter.errors import DigestFormatError
from newsletter.issues.loader import load_issue
from newsletter.issues.model import Issue

DIGEST = ROOT / "tests" / "fixtures" / "digest-2022-09-07.txt"
SAMPLE_TEXT = DIGEST.read_text("utf-8")
# In the committed issue file but not in the digest text: added by hand.
# Written by hand in the committed file: its English title, and a footer in both languages
# (the digest's own footer speaks of images, which the email does not have).
HAND_WRITTEN = {"title_en", "footer", "footer_en"}


def lines() -> list[str]:
    return SAMPLE_TEXT.split("\n")


def edited(changes: dict[int, str | None]) -> str:
    """The sample digest with 1-based lines replaced (None deletes the line)."""
    out = []
    for number, line in enumerate(lines(), start=1):
        if number not in changes:
            out.append(line)
        elif changes[number] is not None:
            out.append(str(changes[number]))
    return "\n".join(out)


def imported(text: str, tmp_path: Path, name: str = "digest-2022-09-07.txt") -> Issue:
    tmp_path.mkdir(parents=True, exist_ok=True)
    source = tmp_path / name
    source.write_text(text, "utf-8", newline="")
    return import_digest(source, issues_dir=tmp_path / "issues").issue


def run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def test_the_sample_digest_imports_to_the_committed_issue(tmp_path: Path) -> None:
    """Every field the text carries equals the committed file; only the hand-written ones
    differ. The English title is the default one, so English readers get an English subject."""
    issue = imported(SAMPLE_TEXT, tmp_path)
    committed = load_issue(SAMPLE_ISSUE)
    ours, theirs = issue.model_dump(), committed.model_dump()
    differing = {name for name in theirs if ours[name] != theirs[name]}
    assert differing == HAND_WRITTEN
    assert ours["title_en"] == "AI papers on arXiv · 2022-09-07"
    # The digest's half-width comma, set full-width as Chinese text is.
    assert ours["footer"] == "内容中包含的图片若涉及版权问题，请及时与我们联系删除"
    assert ours["footer_en"] is None


def test_the_written_file_has_the_hand_written_style(tmp_path: Path) -> None:
    """The YAML is the committed file line for line, apart from comments and hand-added fields."""
    imported(SAMPLE_TEXT, tmp_path)
    written = (tmp_path / "issues" / "2022-09-07.yaml").read_text("utf-8")

    def body(text: str) -> list[str]:
        return [
            line for line in text.splitlines()
            if not line.startswith("#") and line.split(":", 1)[0] not in HAND_WRITTEN
        ]

    assert body(written) == body(SAMPLE_ISSUE.read_text("utf-8"))
    assert written.startswith("# AI paper digest for 2022-09-07, imported from ")
    assert "  title: 'MO2: Model-Based Offline Options'" in written
    assert "  abstract: >-" in written


def test_the_sample_parts_are_read_as_the_layout_describes() -> None:
    """Glued Chinese titles and affiliations split; "..." marks a cut author list; chrome goes."""
    data = parse_digest(SAMPLE_TEXT).data
    notable = data["notable"]
    assert notable[0]["title"].endswith("with Masked Visual Modeling")
    assert notable[0]["title_zh"] == "基于掩码视觉建模的端到端视频-语言Transformer实证研究"
    assert data["featured"][4]["affiliations"][:2] == [
        "The University of Hong Kong", "University of Washington",
    ]
    assert data["featured"][4]["authors"] == ["H Su", "J Kasai", "C H Wu", "W Shi"]
    assert data["featured"][4]["authors_truncated"] is True
    assert data["footer"] == "内容中包含的图片若涉及版权问题,请及时与我们联系删除"
    assert "评论" not in str(data) and "沙发" not in str(data)


def test_crlf_and_extra_blank_lines_change_nothing(tmp_path: Path) -> None:
    """Windows line endings and blank lines everywhere import the same issue."""
    spaced = "\n\n".join(lines()).replace("\n", "\r\n")
    assert imported(spaced, tmp_path) == imported(SAMPLE_TEXT, tmp_path / "plain")


def test_half_and_full_width_punctuation_are_both_read(tmp_path: Path) -> None:
    """`1.` or `1、`, `摘要：` or `摘要:`, a full-width colon after the notable heading."""
    variant = edited({
        3: lines()[2].replace("摘要:", "摘要："),
        4: "1. [LG] MO2: Model-Based Offline Options",
        14: "2．[LG] A Review of Sparse Expert Models in Deep Learning",
        51: "另外几篇值得关注的论文：",
    })
    assert imported(variant, tmp_path) == imported(SAMPLE_TEXT, tmp_path / "plain")


def test_chinese_texts_are_written_with_chinese_punctuation(tmp_path: Path) -> None:
    """The digest's ASCII punctuation in Chinese text becomes full-width in the issue file
    (commas, colons, parentheses touching Chinese); English text and numbers keep theirs."""
    issue = imported(SAMPLE_TEXT, tmp_path)
    first = issue.featured[0]
    assert first.summary_zh and "能力，被认为" in first.summary_zh
    assert "选项（MO2），一种" in first.summary_zh and "," not in first.summary_zh
    assert first.abstract.count(",") > 3  # English untouched
    assert issue.notable[1].title_zh == "HammingMesh：大规模深度学习网络拓扑"
    assert "18/100" in (issue.featured[4].summary_zh or "")


def test_an_entry_without_a_chinese_part(tmp_path: Path) -> None:
    """Papers without their Chinese lines have no title_zh or summary_zh; the others keep theirs."""
    issue = imported(edited({17: None, 60: None}), tmp_path)
    review = issue.featured[1]
    assert (review.title_zh, review.summary_zh) == (None, None)
    assert review.abstract.startswith("Sparse expert models are a thirty-year old concept")
    assert issue.featured[0].title_zh == "MO2: 基于模型的离线选项"
    mesh = issue.notable[1]
    assert (mesh.title, mesh.title_zh) == (
        "HammingMesh: A Network Topology for Large-Scale Deep Learning", None
    )
    assert mesh.authors[0] == "T Hoefler"


def test_author_lists_cut_with_an_ellipsis_character(tmp_path: Path) -> None:
    """"…" ends a cut author list as "..." does."""
    issue = imported(edited({15: "W Fedus, J Dean, B Zoph…"}), tmp_path)
    assert issue.featured[1].authors == ["W Fedus", "J Dean", "B Zoph"]
    assert issue.featured[1].authors_truncated


def test_numbering_past_nine(tmp_path: Path) -> None:
    """Twelve featured papers, numbered 1 to 12, all arrive in order."""
    entries = [
        f"{n}、[LG] Paper number {n}\nA Author{n}, B Author\n[Lab {n}]\n"
        f"第{n}篇论文。这是第{n}篇论文的摘要。\nAbstract of paper {n}.\n"
        f"https://arxiv.org/abs/2209.{n:05d}\n"
        for n in range(1, 13)
    ]
    text = "LG - 机器学习\n" + "\n".join(entries)
    issue = imported(text, tmp_path)
    assert [p.title for p in issue.featured] == [f"Paper number {n}" for n in range(1, 13)]
    assert issue.featured[11].url == "https://arxiv.org/abs/2209.00012"
    assert issue.featured[11].title_zh == "第12篇论文"


def test_html_looking_titles_stay_text(tmp_path: Path) -> None:
    """`<`, `&` and tags in titles are kept as the characters they are."""
    featured = "3、[CL] <b>Bold</b> Claims: When x < y & y > z in Embedding Space"
    notable = "[LG] Mesh & Torus <Topologies>: A & B大规模 & 深度学习"
    issue = imported(edited({24: featured, 59: notable, 60: None}), tmp_path)
    assert issue.featured[2].title == "<b>Bold</b> Claims: When x < y & y > z in Embedding Space"
    assert issue.notable[1].title == "Mesh & Torus <Topologies>: A & B"
    assert issue.notable[1].title_zh == "大规模 & 深度学习"
    written = yaml.safe_load((tmp_path / "issues" / "2022-09-07.yaml").read_text("utf-8"))
    assert written["featured"][2]["title"] == issue.featured[2].title


@pytest.mark.parametrize(("changes", "line", "expected"), [
    ({1: None}, 1, "expected the category legend"),
    ({9: None}, 13, "expected the paper's link (https://arxiv.org/abs/ID) to end entry 1"),
    ({24: "3、[ZZ] Analyzing Transformers in Embedding Space"}, 24,
     "category [ZZ] is not in the legend on line 1"),
    ({17: "深度学习稀疏专家模型综述,稀疏专家模型是个概念"}, 17,
     "expected the Chinese title, '。', then the Chinese summary"),
    ({20: "an unexpected note between two papers"}, 20,
     "expected a numbered paper ('N、[CAT] Title') or '另外几篇值得关注的论文:'"),
    ({15: None}, 15, "expected the authors ('A Author, B Author') after the title of entry 2"),
    ({29: "http://example.com/2209.02535"}, 24, "featured[2].url: not an arXiv abstract link"),
    ({63: None}, 67, "expected the paper's link (https://arxiv.org/abs/ID) to end the paper on "
                     "line 59"),
    ({45: None}, 45, "expected the English abstract of entry 5"),
    ({17: lines()[17], 18: lines()[16]}, 18,
     "expected the English abstract of entry 2 (its Chinese title and summary come first)"),
])
def test_a_block_that_cannot_be_read_is_named_by_line_and_nothing_is_written(
    tmp_path: Path, changes: dict[int, str | None], line: int, expected: str
) -> None:
    """The command says FILE:LINE and what was expected, exits 1, and writes no file."""
    source = tmp_path / "digest-2022-09-07.txt"
    source.write_text(edited(changes), "utf-8")
    result = run("import-digest", str(source))
    assert result.exit_code == 1
    [message] = result.stderr.splitlines()
    assert message.startswith(f"{source}:{line}: "), message
    assert expected in message
    assert not (tmp_path / "issues").exists()


def test_the_date_comes_from_the_option_or_the_file_names_and_the_editor_is_told(
    tmp_path: Path,
) -> None:
    """--date wins; then a date in -o or the input's name; else the newest arXiv ID's month."""
    source = tmp_path / "today.txt"
    source.write_text(SAMPLE_TEXT, "utf-8")
    result = run("import-digest", str(source), "--date", "2022-09-07")
    assert result.exit_code == 0, result.output
    assert "date 2022-09-07 from --date" in result.output
    assert Path("issues/2022-09-07.yaml").exists()

    result = run("import-digest", str(source), "-o", "other/2022-09-08.yaml")
    assert result.exit_code == 0, result.output
    assert "date 2022-09-08 from the file name 2022-09-08.yaml" in result.output
    assert load_issue(Path("other/2022-09-08.yaml")).date == dt.date(2022, 9, 8)

    result = run("import-digest", str(source))
    assert result.exit_code == 0, result.output
    assert Path("issues/2022-09-01.yaml").exists()
    assert "date 2022-09-01 from the month of the newest arXiv ID (2209.02606)" in result.output
    assert "the day is a guess" in result.output


def test_an_existing_issue_file_is_kept(tmp_path: Path) -> None:
    """Importing onto an existing file is refused unless --force; the file is untouched."""
    target = Path("issues/2022-09-07.yaml")
    target.parent.mkdir()
    target.write_text("hand edits\n", "utf-8")
    result = run("import-digest", str(DIGEST))
    assert result.exit_code == 1 and "already exists" in result.stderr
    assert target.read_text("utf-8") == "hand edits\n"
    result = run("import-digest", str(DIGEST), "--force")
    assert result.exit_code == 0, result.output
    assert load_issue(target).featured[0].title == "MO2: Model-Based Offline Options"


def test_a_file_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    """A digest saved in another encoding is named as such and nothing is written."""
    source = tmp_path / "digest-2022-09-07.txt"
    source.write_bytes(SAMPLE_TEXT.encode("gb18030"))
    with pytest.raises(DigestFormatError, match="is not UTF-8 text"):
        import_digest(source, issues_dir=tmp_path / "issues")
    assert not (tmp_path / "issues").exists()


def test_an_output_that_cannot_be_written_is_one_line(tmp_path: Path) -> None:
    """-o into a path whose folder is a file: one line naming it, exit 1."""
    Path("blocker").write_text("a file, not a folder\n", "utf-8")
    result = run("import-digest", str(DIGEST), "-o", "blocker/2022-09-07.yaml")
    assert result.exit_code == 1
    [line] = result.stderr.splitlines()
    assert line.startswith("blocker/2022-09-07.yaml:0: cannot write the file: ")
