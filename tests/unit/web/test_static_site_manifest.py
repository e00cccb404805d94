"""`site --out DIR` removes only what it wrote and never writes or deletes through a
symbolic link out of DIR (issue #24, item 5)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from support.archive import campaign, write_issue
from typer.testing import CliRunner

from newsletter.cli.main import app
from newsletter.web.static_site import MARKER


@pytest.fixture
def issues(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "issues"
    monkeypatch.setenv("NEWSLETTER_ISSUES_DIR", str(folder))
    for day in ("2022-09-06", "2022-09-07"):
        write_issue(folder, day)
        campaign(os.environ["NEWSLETTER_DATABASE_URL"], day, "done")
    return folder


def build(out: Path) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["site", "--out", str(out)])
    output = result.output + result.stderr
    assert "Traceback" not in output
    assert result.exception is None or isinstance(result.exception, SystemExit), output
    return result.exit_code, output


def test_files_the_build_never_wrote_survive_a_rebuild(issues: Path, tmp_path: Path) -> None:
    """.git, .well-known, robots.txt and CNAME put next to the site are kept; a page no
    longer published is still removed."""
    out = tmp_path / "site"
    assert build(out)[0] == 0
    theirs = {".git/config": "[core]\n", ".well-known/security.txt": "Contact: x\n",
              "robots.txt": "User-agent: *\n", "CNAME": "news.example.org\n",
              "issues/notes.txt": "kept\n"}
    for name, text in theirs.items():
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_text(text, "utf-8")
    (issues / "2022-09-06.yaml").unlink()
    code, output = build(out)
    assert code == 0, output
    assert "3 stale file(s) removed" in output
    for name, text in theirs.items():
        assert (out / name).read_text("utf-8") == text, name
    assert not (out / "issues/2022-09-06").exists()


def test_a_symlinked_folder_is_not_written_through(issues: Path, tmp_path: Path) -> None:
    """A folder of the site that is a link to elsewhere is refused; nothing lands there."""
    out, elsewhere = tmp_path / "site", tmp_path / "elsewhere"
    assert build(out)[0] == 0
    elsewhere.mkdir()
    for child in sorted((out / "issues").rglob("*"), reverse=True):
        child.unlink() if child.is_file() else child.rmdir()
    (out / "issues").rmdir()
    (out / "issues").symlink_to(elsewhere, target_is_directory=True)
    code, output = build(out)
    assert code == 1
    assert "symbolic link" in output
    assert list(elsewhere.iterdir()) == []


def test_a_symlinked_file_is_not_written_through(issues: Path, tmp_path: Path) -> None:
    """feed.xml made a link to a file elsewhere: the file elsewhere is unchanged."""
    out, target = tmp_path / "site", tmp_path / "precious.txt"
    assert build(out)[0] == 0
    target.write_text("precious", "utf-8")
    (out / "feed.xml").unlink()
    (out / "feed.xml").symlink_to(target)
    code, output = build(out)
    assert code == 1 and "symbolic link" in output
    assert target.read_text("utf-8") == "precious"


def test_stale_files_behind_a_symlink_are_not_deleted(issues: Path, tmp_path: Path) -> None:
    """A stale page's folder replaced by a link out of DIR: what it points to survives."""
    out, elsewhere = tmp_path / "site", tmp_path / "elsewhere"
    assert build(out)[0] == 0
    elsewhere.mkdir()
    for name in ("index.html", "zh", "en"):
        path = out / "issues/2022-09-06" / name
        if path.is_dir():
            (elsewhere / name).mkdir()
            (elsewhere / name / "index.html").write_text("theirs", "utf-8")
        else:
            (elsewhere / name).write_text("theirs", "utf-8")
    for child in sorted((out / "issues/2022-09-06").rglob("*"), reverse=True):
        child.unlink() if child.is_file() else child.rmdir()
    (out / "issues/2022-09-06").rmdir()
    (out / "issues/2022-09-06").symlink_to(elsewhere, target_is_directory=True)
    (issues / "2022-09-06.yaml").unlink()
    build(out)
    assert (elsewhere / "index.html").read_text("utf-8") == "theirs"
    assert (elsewhere / "zh" / "index.html").read_text("utf-8") == "theirs"


def test_a_manifest_naming_paths_outside_is_not_obeyed(issues: Path, tmp_path: Path) -> None:
    """An edited manifest that names ../ or absolute paths removes nothing outside DIR."""
    out, victim = tmp_path / "site", tmp_path / "victim.txt"
    assert build(out)[0] == 0
    victim.write_text("mine", "utf-8")
    with (out / MARKER).open("a", encoding="utf-8") as manifest:
        manifest.write("../victim.txt\n" + str(victim) + "\n")
    assert build(out)[0] == 0
    assert victim.read_text("utf-8") == "mine"
