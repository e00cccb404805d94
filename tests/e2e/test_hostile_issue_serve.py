"""A hostile file in the issues folder does not take down a running ``newsletter serve``."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from support.env import SAMPLE_ISSUE, WebServer
from support.hostile import hostile_files


@pytest.fixture
def hostile_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "issues"
    folder.mkdir()
    (folder / "2022-09-07.yaml").write_text(SAMPLE_ISSUE.read_text(encoding="utf-8"))
    for n, text in enumerate(hostile_files().values(), start=10):
        (folder / f"2022-10-{n}.yaml").write_text(text, encoding="utf-8")
    monkeypatch.setenv("NEWSLETTER_ISSUES_DIR", str(folder))
    # Unsent past issues are public, so the good one has an archive page.
    monkeypatch.setenv("NEWSLETTER_ARCHIVE_UNSENT", "true")
    return folder


def test_the_form_and_health_check_answer_with_hostile_issue_files(
    hostile_folder: Path, web_server: WebServer
) -> None:
    """/subscribe lists the good file's categories, /healthz answers, a bad archive page is 404."""
    page = httpx.get(f"{web_server.url}/subscribe", timeout=15)
    assert page.status_code == 200
    assert "Robotics" in page.text
    assert httpx.get(f"{web_server.url}/healthz", timeout=5).status_code == 200
    for n in range(10, 10 + len(hostile_files())):
        assert httpx.get(f"{web_server.url}/issues/2022-10-{n}", timeout=15).status_code == 404
    assert httpx.get(f"{web_server.url}/issues/2022-09-07", timeout=15).status_code == 200
    archive = httpx.get(f"{web_server.url}/archive/", timeout=15)
    assert archive.status_code == 200 and "2022-09-07" in archive.text
