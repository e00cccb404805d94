"""The editor's preview server: HTML, text and phone views, reload version, readable errors."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
from starlette.testclient import TestClient
from starlette.types import ASGIApp

from newsletter import wiring
from newsletter.rendering.renderer import DEFAULT_TEMPLATES
from newsletter.settings import get_settings
from newsletter.web.preview import preview_app

OWN_URL = "http://127.0.0.1:8000"  # where preview_app listens by default


def preview(path: Path, host: str = "127.0.0.1", port: int = 8000) -> ASGIApp:
    """The preview of ``path`` as ``newsletter preview`` builds it from the settings."""
    settings = get_settings()
    return preview_app(path, lambda: wiring.renderer(settings), settings.size_limit_bytes,
                       host, port)


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
    return TestClient(preview(issue_path), base_url=OWN_URL)


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
    client = TestClient(preview(tmp_path / "2022-09-07.yaml"),
                        base_url=OWN_URL)
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


def shell_version(page: str) -> str:
    match = re.search(r'const seen = "([0-9a-f]{64})";', page)
    assert match, page
    return match.group(1)


def test_a_save_within_the_same_second_changes_the_version(
    client: TestClient, issue_path: Path
) -> None:
    """A second save that leaves the modification time unchanged is still a new version."""
    first = client.get("/version").json()["version"]
    stat = issue_path.stat()
    issue_path.write_text(issue_path.read_text("utf-8").replace("MO2:", "MO4:"), "utf-8")
    os.utime(issue_path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # a coarse file system
    assert client.get("/version").json()["version"] != first
    assert "MO4: Model-Based Offline Options" in client.get("/raw/html").text


def test_a_save_right_after_a_reload_is_picked_up(client: TestClient, issue_path: Path) -> None:
    """A save between a page load and its first poll still makes the page reload."""
    # The page carries the version it was rendered from, not the one its first poll sees.
    page = client.get("/").text
    rendered_from = shell_version(page)
    assert rendered_from == client.get("/version").json()["version"]
    issue_path.write_text(issue_path.read_text("utf-8").replace("MO2:", "MO5:"), "utf-8")
    assert client.get("/version").json()["version"] != rendered_from
    assert "if (v !== seen) location.reload();" in page


def test_the_file_name_is_escaped(tmp_path: Path, sample_issue_path: Path, templates: Path) -> None:
    """A file name with markup in it is shown as text, never as HTML."""
    path = tmp_path / "<img src=x onerror=alert(1)>.yaml"
    shutil.copy(sample_issue_path, path)
    page = TestClient(preview(path), base_url=OWN_URL).get("/")
    assert page.status_code == 200
    assert "<img src=x" not in page.text
    assert "&lt;img src=x onerror=alert(1)&gt;.yaml" in page.text


@pytest.mark.parametrize(
    "host", ["attacker.example:8000", "127.0.0.1:8001", "127.0.0.1.nip.io:8000", "", "testserver"]
)
def test_requests_for_another_host_are_refused(
    issue_path: Path, templates: Path, host: str
) -> None:
    """A Host other than the preview's own (DNS rebinding) gets 421 and no issue content."""
    client = TestClient(preview(issue_path), base_url=OWN_URL)
    for path in ("/", "/raw/html", "/version"):
        response = client.get(path, headers={"host": host})
        assert response.status_code == 421, (path, host)
        assert "MO2" not in response.text


@pytest.mark.parametrize("host", ["127.0.0.1:8000", "localhost:8000", "[::1]:8000"])
def test_the_preview_answers_its_own_loopback_names(
    issue_path: Path, templates: Path, host: str
) -> None:
    """127.0.0.1, localhost and [::1] with the preview's port are all its own address."""
    client = TestClient(preview(issue_path), base_url=OWN_URL)
    response = client.get("/raw/html", headers={"host": host})
    assert response.status_code == 200 and "MO2" in response.text


def test_a_preview_on_another_interface_answers_that_name(
    issue_path: Path, templates: Path
) -> None:
    """`preview --host box.lan --port 9000` answers box.lan:9000 and nothing else."""
    client = TestClient(preview(issue_path, "box.lan", 9000),
                        base_url="http://box.lan:9000")
    assert client.get("/version").status_code == 200
    assert client.get("/version", headers={"host": "127.0.0.1:9000"}).status_code == 421
