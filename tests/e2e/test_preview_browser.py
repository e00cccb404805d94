"""`newsletter preview` in headless Chromium: every save shows, however soon after a reload."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.browser

CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]


@pytest.fixture
def preview(sample_issue_path: Path, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A real `newsletter preview` of a copy of the sample issue; (its URL, the file)."""
    issue = tmp_path / "2022-09-07.yaml"
    shutil.copy(sample_issue_path, issue)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    command = [str(Path(sys.executable).parent / "newsletter"), "preview", str(issue),
               "--port", str(port)]
    log_path = tmp_path / "preview.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, env=dict(os.environ), cwd=tmp_path, stdout=log,
                                   stderr=log)
        try:
            deadline = time.monotonic() + 30
            while True:
                assert process.poll() is None, log_path.read_text()
                try:
                    if httpx.get(f"{url}/version", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, log_path.read_text()
                time.sleep(0.1)
            yield url, issue
        finally:
            process.terminate()
            process.wait(timeout=10)


def save(path: Path, old: str, new: str) -> None:
    """Save an edit keeping the modification time, as a coarse-timestamp file system would."""
    stat = path.stat()
    path.write_text(path.read_text("utf-8").replace(old, new), "utf-8")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def test_saves_right_after_a_reload_show_in_the_browser(
    preview: tuple[str, Path], chromium_path: str
) -> None:
    """An edit saved as the page reloads, and a second one in the same second, both show."""
    from playwright.sync_api import Locator, expect, sync_playwright

    url, issue = preview
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(url)
            frame = page.frame_locator("iframe")

            def title(prefix: str) -> Locator:
                name = f"{prefix}: Model-Based Offline Options"
                # The paper's heading (the contents list links the same title).
                return frame.get_by_role("heading", name=name, exact=True)

            expect(title("MO2")).to_be_visible()
            page.reload(wait_until="commit")
            save(issue, "MO2:", "MO3:")  # before the reloaded page has polled once
            expect(title("MO3")).to_be_visible(timeout=15_000)
            save(issue, "MO3:", "MO4:")  # the same modification time again
            expect(title("MO4")).to_be_visible(timeout=15_000)
        finally:
            browser.close()


def test_another_host_name_is_refused(preview: tuple[str, Path]) -> None:
    """A request naming another host (DNS rebinding) gets 421 and none of the issue."""
    url, _ = preview
    response = httpx.get(f"{url}/raw/html", headers={"Host": "rebind.example:80"})
    assert response.status_code == 421 and "MO2" not in response.text
    assert httpx.get(f"{url}/raw/html").status_code == 200
