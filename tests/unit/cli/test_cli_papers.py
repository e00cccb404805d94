"""`newsletter papers reindex`: the paper index brought up to the issue files by hand."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from support.env import SAMPLE_ISSUE
from typer.testing import CliRunner

from newsletter.cli.main import app
from newsletter.store.db import open_database
from newsletter.store.papers import PaperStore


@pytest.fixture
def issues(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An issue folder with the sample issue, published (its date has passed)."""
    folder = tmp_path / "issues"
    folder.mkdir()
    shutil.copy(SAMPLE_ISSUE, folder / SAMPLE_ISSUE.name)
    monkeypatch.setenv("NEWSLETTER_ISSUES_DIR", str(folder))
    monkeypatch.setenv("NEWSLETTER_ARCHIVE_UNSENT", "true")
    return folder


def indexed(arxiv_id: str) -> str | None:
    db = open_database(os.environ["NEWSLETTER_DATABASE_URL"])
    try:
        record = PaperStore(db).get(arxiv_id)
    finally:
        db.close()
    return record.title if record is not None else None


def reindex(*args: str) -> str:
    result = CliRunner().invoke(app, ["papers", "reindex", *args], prog_name="newsletter")
    assert result.exit_code == 0, result.output
    return " ".join(result.output.split())


def test_reindex_indexes_changed_issues_and_full_builds_anew(issues: Path) -> None:
    """The first run indexes the issue, a second finds nothing changed, an edited file is
    indexed again, and --full indexes every issue whatever changed."""
    assert indexed("2209.01947") is None
    assert "1 issue(s) indexed, 0 dropped" in reindex()
    assert indexed("2209.01947") is not None
    assert "0 issue(s) indexed, 0 dropped, 0 paper(s)" in reindex()
    path = issues / SAMPLE_ISSUE.name
    text = path.read_text("utf-8")
    title = indexed("2209.01947")
    assert title is not None and title in text
    path.write_text(text.replace(title, "A title edited by hand", 1), "utf-8")
    assert "1 issue(s) indexed" in reindex()
    assert indexed("2209.01947") == "A title edited by hand"
    assert "1 issue(s) indexed, 0 dropped" in reindex("--full")
    assert indexed("2209.01947") == "A title edited by hand"


def test_reindex_says_how_many_issue_files_it_left_out(issues: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """An index short of issues said nothing of why: files not published yet (unsent,
    or dated after today) or not valid are counted, with what makes an issue public."""
    assert "not in it" not in reindex()
    text = SAMPLE_ISSUE.read_text("utf-8")
    (issues / "2999-01-01.yaml").write_text(text.replace("2022-09-07", "2999-01-01"), "utf-8")
    (issues / "2022-09-08.yaml").write_text("date: [unclosed\n", "utf-8")
    said = reindex()
    assert "0 issue(s) indexed" in said
    assert (f"2 of the 3 issue file(s) in {issues} are not in it: not published yet"
            in said)
    assert "NEWSLETTER_ARCHIVE_UNSENT=true" in said and "newsletter validate" in said
    monkeypatch.setenv("NEWSLETTER_ARCHIVE_UNSENT", "false")  # none sent: none public
    said = reindex()
    assert "0 issue(s) indexed, 1 dropped" in said
    assert f"3 of the 3 issue file(s) in {issues} are not in it" in said


def test_reindex_drops_issues_no_longer_published(issues: Path) -> None:
    """An issue file removed since the last run takes its papers out of the index."""
    reindex()
    (issues / SAMPLE_ISSUE.name).unlink()
    assert "0 issue(s) indexed, 1 dropped" in reindex()
    assert indexed("2209.01947") is None


def test_reindex_without_a_database_is_one_line(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """A missing SQLite file is a clear error naming the setting, not a new empty index."""
    monkeypatch.setenv("NEWSLETTER_DATABASE_URL", f"sqlite:///{tmp_path / 'missing.db'}")
    result = CliRunner().invoke(app, ["papers", "reindex"], prog_name="newsletter")
    assert result.exit_code == 1
    assert "NEWSLETTER_DATABASE_URL" in result.output
    assert not (tmp_path / "missing.db").exists()


def test_full_keeps_the_old_index_readable_until_the_new_one_is_whole(
        issues: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """While --full writes, another connection still reads every paper (found by trying
    it: the index used to be emptied and committed first, so search found nothing and
    paper pages were 404s for most of a rebuild)."""
    from newsletter.store import papers as paper_module

    reindex()
    seen: list[str | None] = []
    real = paper_module._write

    def read_meanwhile(*args: object) -> None:
        if not seen:
            seen.append(indexed("2209.01947"))
        real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(paper_module, "_write", read_meanwhile)
    assert "1 issue(s) indexed, 0 dropped" in reindex("--full")
    assert seen and seen[0] is not None
    assert indexed("2209.01947") is not None


def test_a_missing_issues_folder_is_an_error_and_drops_nothing(
        issues: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A mistyped NEWSLETTER_ISSUES_DIR would otherwise drop every paper, exit 0."""
    reindex()
    monkeypatch.setenv("NEWSLETTER_ISSUES_DIR", str(issues.parent / "isues"))
    result = CliRunner().invoke(app, ["papers", "reindex"], prog_name="newsletter")
    assert result.exit_code != 0
    assert "isues does not exist" in " ".join(result.output.split())
    assert indexed("2209.01947") is not None
