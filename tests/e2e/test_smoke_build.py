"""The build command writes the three files for the sample issue."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from newsletter.cli.main import app


def test_build_writes_html_text_and_eml(sample_issue_path: Path, tmp_path: Path) -> None:
    """`newsletter build` writes <date>.html, .txt, .eml and prints their sizes."""
    result = CliRunner().invoke(app, ["build", str(sample_issue_path), "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    for ext in ("html", "txt", "eml"):
        file = tmp_path / f"2022-09-07.{ext}"
        assert file.stat().st_size > 1000
        assert f"2022-09-07.{ext}" in result.output
    assert (tmp_path / "2022-09-07.html").stat().st_size <= 45_000
