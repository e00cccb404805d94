"""The public archive in headless Chromium, served by a real `newsletter serve` under a base
URL with a path, and as static files from a plain web server; feeds read by feedparser."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import feedparser
import httpx
import pytest
from support.archive import campaign, write_issue
from support.env import SAMPLE_ISSUE
from support.servers import running

from newsletter.issues.loader import load_issue

pytestmark = pytest.mark.browser

SENT = ("2022-09-05", "2022-09-06", "2022-09-07")
UNSENT = "2022-09-08"
FUTURE = "2099-01-01"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def archive(tmp_path: Path) -> dict[str, str]:
    """Issue files (three sent, one unsent, one future) and the environment that finds them."""
    issues = tmp_path / "issues"
    for day in (*SENT, UNSENT, FUTURE):
        write_issue(issues, day)
    for day in SENT:
        campaign(os.environ["NEWSLETTER_DATABASE_URL"], day, "done")
    return {**os.environ, "NEWSLETTER_ISSUES_DIR": str(issues)}


def check_feeds(base: str) -> None:
    """Both feeds parse as Atom, carry absolute links under ``base``, and every entry's link
    opens a page (and, for papers, an element with the entry's anchor)."""
    feed = feedparser.parse(httpx.get(f"{base}/feed.xml").content)
    assert not feed.bozo and feed.version == "atom10"
    assert [urlsplit(e.link).path.rstrip("/").rsplit("/", 1)[-1] for e in feed.entries] == [
        "2022-09-07", "2022-09-06", "2022-09-05"]
    for entry in feed.entries:
        assert entry.link.startswith(f"{base}/issues/")
        assert httpx.get(entry.link, follow_redirects=True).status_code == 200
    lg = feedparser.parse(httpx.get(f"{base}/feeds/LG.xml").content)
    per_issue = sum(paper.category == "LG" for paper in load_issue(SAMPLE_ISSUE).papers)
    assert not lg.bozo and len(lg.entries) == len(SENT) * per_issue > 0
    pages: dict[str, str] = {}
    for entry in lg.entries:
        page_url, _, anchor = entry.link.partition("#")
        assert page_url.startswith(f"{base}/issues/") and anchor.startswith("arxiv-")
        if page_url not in pages:
            response = httpx.get(page_url, follow_redirects=True)
            assert response.status_code == 200
            pages[page_url] = response.text
        assert f'id="{anchor}"' in pages[page_url]


def test_archive_pages_and_feeds_in_a_browser(
    archive: dict[str, str], browser: object, tmp_path: Path
) -> None:
    """Served under /news: archive, issue, language switch, anchors, 404s and feeds work."""
    # The archive lists the sent issues, an issue opens with its language switch, a paper's
    # anchor scrolls to it, unsent and future issues are 404, every feed link opens a page.
    from playwright.sync_api import Browser, expect

    assert isinstance(browser, Browser)
    port = free_port()
    base = f"http://127.0.0.1:{port}/news"
    env = {**archive, "NEWSLETTER_BASE_URL": base}
    command = [str(Path(sys.executable).parent / "newsletter"), "serve", "--port", str(port)]
    with running(command, env, tmp_path, f"http://127.0.0.1:{port}/healthz"):
        page = browser.new_page()
        problems: list[str] = []
        # A blocked stylesheet or any other Content-Security-Policy violation shows here.
        page.on("console", lambda message: problems.append(
            f"{message.text} ({message.location.get('url', '')})"))
        page.goto(f"{base}/archive/")
        expect(page.get_by_role("heading", level=1)).to_contain_text("Archive")
        issue_links = page.locator("section.issue h2 a")
        expect(issue_links).to_have_count(3)
        assert page.locator("time").all_inner_texts() == ["2022-09-07", "2022-09-06",
                                                           "2022-09-05"]
        # The stylesheet loaded under /news (the CSP would report a blocked one).
        assert page.evaluate("getComputedStyle(document.querySelector('main')).maxWidth") \
            != "none"

        issue_links.first.click()
        page.wait_for_url(f"{base}/issues/2022-09-07")
        expect(page.get_by_role("heading", level=1)).to_contain_text("2022-09-07")
        expect(page.get_by_text("MO2: 基于模型的离线选项")).to_be_visible()
        page.get_by_role("link", name="English · 英文").click()
        page.wait_for_url(f"{base}/issues/2022-09-07?lang=en")
        expect(page.locator("html")).to_have_attribute("lang", "en")
        expect(page.get_by_text("MO2: 基于模型的离线选项")).to_have_count(0)
        expect(page.locator('nav.switch [aria-current="page"]')).to_have_text("English · 英文")

        page.goto(f"{base}/issues/2022-09-06?lang=zh&categories=CV#arxiv-2209.02136")
        target = page.locator('[id="arxiv-2209.02136"]')
        expect(target).to_be_in_viewport()
        expect(page.locator("ol.featured > li, ul.notable > li")).to_have_count(2)

        assert [p for p in problems if "favicon.ico" not in p] == []
        for day in (UNSENT, FUTURE):
            response = page.goto(f"{base}/issues/{day}")
            assert response is not None and response.status == 404
            expect(page.get_by_role("heading", level=1)).to_contain_text("Not found")
        check_feeds(base)


def test_the_static_site_in_a_browser(
    archive: dict[str, str], browser: object, tmp_path: Path
) -> None:
    """`newsletter site` output on a plain static server under /news: navigation and feeds."""
    # The language switch opens the per-language folders; every feed link opens a page.
    from playwright.sync_api import Browser, expect

    assert isinstance(browser, Browser)
    port = free_port()
    base = f"http://127.0.0.1:{port}/news"
    env = {**archive, "NEWSLETTER_BASE_URL": base}
    www = tmp_path / "www"
    newsletter = str(Path(sys.executable).parent / "newsletter")
    built = subprocess.run([newsletter, "site", "--out", str(www / "news")], env=env,
                           cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert built.returncode == 0, built.stderr
    assert "3 issue(s)" in built.stdout
    command = [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
               "--directory", str(www)]
    with running(command, env, tmp_path, f"{base}/"):
        page = browser.new_page()
        page.goto(f"{base}/archive/")
        expect(page.locator("section.issue h2 a")).to_have_count(3)
        page.locator("section.issue h2 a").nth(1).click()
        page.wait_for_url(f"{base}/issues/2022-09-06/")
        page.get_by_role("link", name="中文 · Chinese").click()
        page.wait_for_url(f"{base}/issues/2022-09-06/zh/")
        expect(page.locator('nav.switch [aria-current="page"]')).to_have_text("中文 · Chinese")
        # The link in an email (no trailing slash, a query) still opens the issue.
        response = page.goto(f"{base}/issues/2022-09-06?lang=en&categories=CV")
        assert response is not None and response.ok
        expect(page.get_by_role("heading", level=1)).to_contain_text("2022-09-06")
        response = page.goto(f"{base}/issues/{UNSENT}/")
        assert response is not None and response.status == 404
        check_feeds(base)
