"""The editor's preview server: HTML, text and phone views, reload version, readable errors."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from newsletter.rendering.renderer import DEFAULT_TEMPLATES
from newsletter.settings import get_settings
from newsletter.web.preview import preview_app


@pytest.fixture
def issue_path(sample_issue_path: Path, tmp_path: Path) -> Path:
    path = tmp_path / "issues" / sample_issue_path.name
    path.parent.mkdir()
    shutil.copy(sample_issue_path, path)
    return path


@pytest.fixture
def templates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the templates that the test may edit, used through the settings."""
    folder = tmp_path / "templates"
    shutil.copytree(DEFAULT_TEMPLATES, folder)
    monkeypatch.setenv("NEWSLETTER_TEMPLATES_DIR", str(folder))
    return folder


@pytest.fixture
def client(issue_path: Path, templates: Path) -> TestClient:
    return TestClient(preview_app(issue_path, get_settings()))


def touch_later(path: Path, seconds: int = 5) -> None:
    """Move the file's modification time forward, as saving it a moment later would."""
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + seconds * 1_000_000_000))


def test_shell_links_every_view_and_language(client: TestClient) -> None:
    """The preview page frames the HTML view and links the text, phone and language views."""
    page = client.get("/")
    assert page.status_code == 200
    assert '<iframe title="Rendered issue" src="/raw/html?language=both">' in page.text
    for view in ("html", "text", "phone"):
        assert f'href="/?view={view}&language=both"' in page.text
    for language in ("zh", "en"):
        assert f'href="/?view=html&language={language}"' in page.text


def test_html_view_serves_the_rendered_issue(client: TestClient) -> None:
    """/raw/html is the email's HTML for the chosen language."""
    both = client.get("/raw/html")
    assert both.status_code == 200 and both.headers["content-type"].startswith("text/html")
    assert both.text.startswith("<!doctype html>")
    assert "MO2: 基于模型的离线选项" in both.text
    english = client.get("/raw/html", params={"language": "en"})
    assert '<html lang="en"' in english.text and "基于模型的离线选项" not in english.text


def test_text_view_serves_the_plaintext(client: TestClient) -> None:
    """/raw/text is the plaintext part, served as text/plain."""
    text = client.get("/raw/text")
    assert text.status_code == 200 and text.headers["content-type"].startswith("text/plain")
    assert "1. [LG] MO2: Model-Based Offline Options" in text.text
    assert "<" not in text.text


def test_phone_view_is_375_pixels_wide(client: TestClient) -> None:
    """The phone view frames the HTML at 375 px; the desktop view at full width."""
    assert "width: 375px;" in client.get("/", params={"view": "phone"}).text
    assert "width: 100%;" in client.get("/", params={"view": "html"}).text


def test_text_view_frames_the_plaintext(client: TestClient) -> None:
    """The "Plain text" view frames /raw/text."""
    page = client.get("/", params={"view": "text", "language": "zh"})
    assert 'src="/raw/text?language=zh"' in page.text


def test_bad_view_or_language_is_refused(client: TestClient) -> None:
    """An unknown view or language is a 400 with a message, not a crash."""
    assert client.get("/", params={"view": "tablet"}).status_code == 400
    refused = client.get("/raw/html", params={"language": "fr"})
    assert refused.status_code == 400 and "zh, en or both" in refused.text


def test_version_changes_when_the_issue_file_changes(
    client: TestClient, issue_path: Path
) -> None:
    """/version stays the same until the issue file is saved again."""
    first = client.get("/version").json()["version"]
    assert client.get("/version").json()["version"] == first
    issue_path.write_text(issue_path.read_text("utf-8").replace("MO2:", "MO3:"), "utf-8")
    touch_later(issue_path)
    second = client.get("/version").json()["version"]
    assert second != first
    assert "MO3: Model-Based Offline Options" in client.get("/raw/html").text


def test_version_changes_when_a_template_changes(client: TestClient, templates: Path) -> None:
    """Editing a template changes /version, and the next render uses the new template."""
    first = client.get("/version").json()["version"]
    template = templates / "email" / "issue.txt.j2"
    template.write_text(template.read_text("utf-8") + "PS: edited\n", "utf-8")
    touch_later(template)
    assert client.get("/version").json()["version"] != first
    assert client.get("/raw/text").text.endswith("PS: edited\n")


def test_broken_issue_gives_a_readable_422(client: TestClient, issue_path: Path) -> None:
    """A broken issue file shows its problems (file:line: field: message) with status 422."""
    text = issue_path.read_text("utf-8").replace(
        "url: https://arxiv.org/abs/2209.02606", "url: htp://arxiv.org/abs/2209.02606"
    )
    issue_path.write_text(text, "utf-8")
    line = text.splitlines().index("  url: htp://arxiv.org/abs/2209.02606") + 1
    broken = client.get("/raw/html")
    assert broken.status_code == 422
    assert "The issue cannot be rendered" in broken.text
    assert f"{issue_path}:{line}: featured[3].url: not an arXiv abstract link" in broken.text
    assert client.get("/").status_code == 200  # the page keeps polling and reloads once fixed
    assert client.get("/raw/text").status_code == 422


def test_missing_issue_file_gives_a_readable_422(tmp_path: Path, templates: Path) -> None:
    """Previewing a file that was deleted explains that it cannot be read."""
    client = TestClient(preview_app(tmp_path / "2022-09-07.yaml", get_settings()))
    missing = client.get("/raw/html")
    assert missing.status_code == 422
    assert "cannot read the file" in missing.text
    assert client.get("/version").status_code == 200


@pytest.mark.parametrize("path", ["/raw/nope", "/raw/phone", "/nope", "/raw/html/extra"])
def test_unknown_paths_are_404(client: TestClient, path: str) -> None:
    """A path the preview does not serve answers 404, not a rendered page."""
    response = client.get(path)
    assert response.status_code == 404
    assert "<html" not in response.text
