"""`build --category`: unknown codes are refused, codes with no paper today are warned about."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from newsletter import wiring
from newsletter.cli.main import app
from newsletter.editing.build import build
from newsletter.errors import UnknownCategoryError
from newsletter.settings import get_settings
from newsletter.vocabulary import Variant


def run_build(issue: Path, out: Path, *categories: str) -> Result:
    args = ["build", str(issue), "--out", str(out)]
    for code in categories:
        args += ["--category", code]
    return CliRunner().invoke(app, args)


def test_unknown_category_is_refused_and_nothing_written(
    sample_issue_path: Path, tmp_path: Path
) -> None:
    """`build --category ZZ` exits 1 naming the known codes and writes no file."""
    result = run_build(sample_issue_path, tmp_path / "out", "ZZ")
    assert result.exit_code == 1
    assert result.stderr.strip() == "unknown category ZZ; known: AS, CL, CV, LG, RO"
    assert not (tmp_path / "out").exists()


def test_known_category_without_papers_is_a_warning(
    sample_issue_path: Path, tmp_path: Path
) -> None:
    """A known code with no paper in the issue builds, with a warning that it is empty."""
    result = run_build(sample_issue_path, tmp_path, "RO")
    assert result.exit_code == 0, result.output
    assert (
        "warning: no paper in this issue is in RO; the file has no featured papers"
        in result.stderr
    )
    assert (tmp_path / "2022-09-07.html").exists()


def test_partly_empty_variant_names_what_it_still_has(
    sample_issue_path: Path, tmp_path: Path
) -> None:
    """The warning says what the variant still has: other codes' papers, or notable ones."""
    bench = wiring.workbench(get_settings())
    # In the sample, LG and CL papers are featured, the two CV papers only notable.
    mixed = build(sample_issue_path, tmp_path, bench, _variant("AS", "CL", "RO"))
    assert mixed.warnings == [
        "no paper in this issue is in AS, RO; the file has only the CL papers"
    ]
    assert mixed.rendered.paper_count == 2
    notable = build(sample_issue_path, tmp_path, bench, _variant("CV", "RO"))
    assert notable.warnings == [
        "no paper in this issue is in RO; the file has no featured papers, only notable ones"
    ]
    only_notable = build(sample_issue_path, tmp_path, bench, _variant("CV"))
    assert only_notable.warnings == [
        "no featured paper in this issue is in CV; "
        "the file has no featured papers, only notable ones"
    ]
    assert build(sample_issue_path, tmp_path, bench, _variant("CV", "LG")).warnings == []
    assert build(sample_issue_path, tmp_path, bench, Variant()).warnings == []


def test_codes_from_other_issue_files_are_known(sample_issue_path: Path, tmp_path: Path) -> None:
    """A code described only by another issue file in the issues directory is not refused."""
    issues = tmp_path / "issues"
    issues.mkdir()
    other = sample_issue_path.read_text("utf-8").replace("2022-09-07", "2022-09-08")
    other = other.replace("  RO:\n", "  NE:\n    zh: 神经与进化计算\n    en: Neural\n  RO:\n")
    (issues / "2022-09-08.yaml").write_text(other, "utf-8")
    bench = wiring.workbench(get_settings())
    result = build(sample_issue_path, tmp_path / "out", bench, _variant("NE"))
    assert result.warnings == [
        "no paper in this issue is in NE; the file has no featured papers"
    ]
    with pytest.raises(UnknownCategoryError, match="known: AS, CL, CV, LG, NE, RO"):
        build(sample_issue_path, tmp_path / "out", bench, _variant("QQ"))


def _variant(*codes: str) -> Variant:
    return Variant("both", frozenset(codes))
