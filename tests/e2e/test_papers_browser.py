"""Paper pages and search in headless Chromium: served by `newsletter serve` under a base
path (on SQLite and on PostgreSQL), and as the static site's offline search."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import bibtexparser
import pytest
from support.archive import campaign, write_issue
from support.axe import AxeUnavailable, axe_source
from support.servers import running

from newsletter.store.db import upgrade

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

NEWSLETTER = str(Path(sys.executable).parent / "newsletter")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def environment(tmp_path: Path, database_url: str) -> dict[str, str]:
    """Two sent issues with the same papers (so each was "featured before")."""
    upgrade(database_url)
    issues = tmp_path / "issues"
    for day in ("2022-09-06", "2022-09-07"):
        write_issue(issues, day)
        campaign(database_url, day, "done")
    return {**os.environ, "NEWSLETTER_ISSUES_DIR": str(issues),
            "NEWSLETTER_DATABASE_URL": database_url}


def serious(browser: Any, urls: dict[str, str], axe: str) -> list[object]:
    """axe-core's serious and critical findings on each page, at 375 and 1280 px, light and
    dark, and sideways scrolling at 375 px."""
    # The Content-Security-Policy would refuse the injected axe-core: bypass it here only.
    context = browser.new_context(bypass_csp=True)
    found: list[object] = []
    for name, url in urls.items():
        page = context.new_page()
        page.goto(url)
        page.wait_for_load_state("networkidle")
        found += _serious(page, name, axe)
        page.close()
    context.close()
    return found


def _serious(page: Any, name: str, axe: str) -> list[object]:
    page.add_script_tag(content=axe)
    found: list[object] = []
    for width in (375, 1280):
        page.set_viewport_size({"width": width, "height": 900})
        for scheme in ("light", "dark"):
            page.emulate_media(color_scheme=scheme)
            result = page.evaluate(
                "async () => await axe.run(document, {resultTypes: ['violations']})")
            assert result["passes"], "axe ran no check"
            found += [(name, width, scheme, v["id"], [n["html"][:120] for n in v["nodes"][:3]])
                      for v in result["violations"] if v["impact"] in ("serious", "critical")]
        if width == 375:
            sideways = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            if sideways > 0:
                found.append((name, "scrolls sideways by", sideways))
    return found


def search_and_open(page: Any, base: str, query: str) -> None:
    """Type ``query`` into the search page's box, submit, and open the first result (or
    land on the paper page straight away for an identifier)."""
    page.goto(f"{base}/search")
    page.get_by_label("标题、作者、机构、摘要或 arXiv 编号").fill(query)
    with page.expect_navigation():
        page.get_by_label("标题、作者、机构、摘要或 arXiv 编号").press("Enter")
    if "/papers/" not in page.url:
        page.locator("ol.results > li a").first.click()
    page.wait_for_url(f"{base}/papers/**")


def test_paper_pages_and_search_in_a_browser(database_url: str, browser: Any,
                                             tmp_path: Path) -> None:
    """From an issue page to a paper page (meta tags, JSON-LD, "featured before", the .bib
    download parsed by bibtexparser, back to the issue's anchor); search by an English
    phrase, an author, a two-character Chinese word and an arXiv link; axe-core clean."""
    from playwright.sync_api import expect

    try:
        axe = axe_source()
    except AxeUnavailable as err:
        pytest.skip(str(err))
    env = environment(tmp_path, database_url)
    port = free_port()
    base = f"http://127.0.0.1:{port}/news"
    env["NEWSLETTER_BASE_URL"] = base
    with running([NEWSLETTER, "serve", "--port", str(port)], env, tmp_path,
                 f"http://127.0.0.1:{port}/healthz"):
        context = browser.new_context(accept_downloads=True)
        page = context.new_page()
        problems: list[str] = []
        page.on("console", lambda message: problems.append(
            f"{message.text} ({message.location.get('url', '')})"))
        page.goto(f"{base}/issues/2022-09-07")
        page.locator('[id="arxiv-2209.01947"]').get_by_role("link", name="论文页").click()
        page.wait_for_url(f"{base}/papers/2209.01947")
        expect(page.get_by_role("heading", level=1)).to_have_text(
            "MO2: Model-Based Offline Options")
        expect(page.get_by_text("MO2: 基于模型的离线选项")).to_be_visible()
        expect(page.get_by_text("Featured before on 2022-09-06.")).to_be_visible()
        meta = page.evaluate("""() => Array.from(document.querySelectorAll('meta[name^=citation_]'),
                                m => [m.name, m.content])""")
        assert ["citation_title", "MO2: Model-Based Offline Options"] in meta
        assert ["citation_arxiv_id", "2209.01947"] in meta
        assert ["citation_pdf_url", "https://arxiv.org/pdf/2209.01947"] in meta
        assert ["citation_publication_date", "2022/09"] in meta
        assert [m[1] for m in meta if m[0] == "citation_author"][:3] == [
            "S Salter", "M Wulfmeier", "D Tirumala"]
        data = json.loads(page.locator('script[type="application/ld+json"]').text_content())
        assert data["@type"] == "ScholarlyArticle" and data["identifier"][0]["value"] == \
            "2209.01947"
        expect(page.get_by_role("link", name="PDF")).to_have_attribute(
            "href", "https://arxiv.org/pdf/2209.01947")
        expect(page.get_by_role("link", name="HTML", exact=True)).to_have_attribute(
            "href", "https://arxiv.org/html/2209.01947")
        with page.expect_download() as download:
            page.get_by_role("link", name="BibTeX (.bib)").click()
        bib = Path(download.value.path()).read_text("utf-8")
        [entry] = bibtexparser.parse_string(bib).entries
        assert entry["eprint"] == "2209.01947" and entry["year"] == "2022"
        assert entry["title"] == "{MO2: Model-Based Offline Options}"
        assert entry["author"].split(" and ")[:2] == ["S Salter", "M Wulfmeier"]
        page.get_by_role("link", name="AI 前沿论文速递 · 2022-09-06").click()
        page.wait_for_url(f"{base}/issues/2022-09-06#arxiv-2209.01947")
        expect(page.locator('[id="arxiv-2209.01947"]')).to_be_in_viewport()

        for query, paper in (("sparse expert models", "2209.01667"),
                             ("Wulfmeier", "2209.01947"), ("稀疏", "2209.01667"),
                             ("https://arxiv.org/abs/2209.01947v2", "2209.01947")):
            search_and_open(page, base, query)
            assert page.url == f"{base}/papers/{paper}", query
        page.goto(f"{base}/search?q=sparse+expert")
        expect(page.locator("ol.results mark").first).to_have_text("sparse", ignore_case=True)
        page.goto(f"{base}/search?q=%22%20OR%20NEAR(")
        expect(page.get_by_text("Nothing found")).to_be_visible()
        context.close()
        failures = serious(browser, {
            "paper page": f"{base}/papers/2209.01947",
            "search results": f"{base}/search?q=sparse+expert",
            "nothing found": f"{base}/search?q=%22%20OR%20NEAR(",
            "issue page": f"{base}/issues/2022-09-07",
        }, axe)
    assert not failures, "\n".join(map(str, failures))
    assert [p for p in problems if "favicon.ico" not in p] == []


def test_the_static_sites_search_works_offline(browser: Any, tmp_path: Path) -> None:
    """`newsletter site` output on a plain static server: its search page finds an author,
    a two-character Chinese word and an arXiv link from the prebuilt index, with nothing
    fetched from anywhere else; axe-core clean."""
    from playwright.sync_api import expect

    try:
        axe = axe_source()
    except AxeUnavailable as err:
        pytest.skip(str(err))
    env = environment(tmp_path, os.environ["NEWSLETTER_DATABASE_URL"])
    port = free_port()
    base = f"http://127.0.0.1:{port}/news"
    env["NEWSLETTER_BASE_URL"] = base
    www = tmp_path / "www"
    built = subprocess.run([NEWSLETTER, "site", "--out", str(www / "news")], env=env,
                           cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert built.returncode == 0, built.stderr
    command = [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
               "--directory", str(www)]
    with running(command, env, tmp_path, f"{base}/"):
        context = browser.new_context()
        elsewhere: list[str] = []

        def only_here(route: Any) -> None:
            if route.request.url.startswith(f"http://127.0.0.1:{port}/"):
                route.continue_()
            else:
                elsewhere.append(route.request.url)
                route.abort()

        context.route("**/*", only_here)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        for query, paper in (("Fedus", "2209.01667"), ("稀疏", "2209.01667"),
                             ("wulfmeier deepmind", "2209.01947"),
                             ("arxiv.org/abs/2209.01947v1", "2209.01947")):
            page.goto(f"{base}/search/")
            page.get_by_label("标题、作者、机构、摘要或 arXiv 编号").fill(query)
            page.get_by_label("标题、作者、机构、摘要或 arXiv 编号").press("Enter")
            if "arxiv.org" not in query:
                expect(page.locator("ol.results > li")).to_have_count(1)
                expect(page.locator("ol.results mark").first).to_be_visible()
                page.locator("ol.results > li a").first.click()
            page.wait_for_url(f"{base}/papers/{paper}/")
            expect(page.locator('meta[name="citation_arxiv_id"]')).to_have_attribute(
                "content", paper)
        page.goto(f"{base}/search/?q=Fedus&category=CV")
        expect(page.get_by_text("Nothing found")).to_be_visible()
        page.goto(f"{base}/search/?q=%E7%A8%80%E7%96%8F")
        expect(page.locator("ol.results > li")).to_have_count(1)
        context.close()
        failures = serious(browser, {"static search": f"{base}/search/?q=%E7%A8%80%E7%96%8F",
                                     "static paper page": f"{base}/papers/2209.01667/"}, axe)
    assert not failures, "\n".join(map(str, failures))
    assert errors == [] and elsewhere == []
