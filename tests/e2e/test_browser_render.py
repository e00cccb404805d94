"""The rendered email in a real browser (headless Chromium): widths, dark mode, screenshots.

Run this file directly to refresh the README's screenshots in docs/screenshots:

    PYTHONPATH=tests .venv/bin/python tests/e2e/test_browser_render.py
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
from support.emails import english_only
from support.env import ROOT

from newsletter.issues.loader import load_issue
from newsletter.issues.model import Issue
from newsletter.rendering.renderer import Renderer
from newsletter.vocabulary import Variant

ROOT = ROOT
SAMPLE = ROOT / "issues" / "2022-09-07.yaml"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
DARK_BODY = "rgb(13, 17, 23)"  # head.css: the dark-mode page background
DARK_CARD = "rgb(22, 27, 34)"

pytestmark = pytest.mark.browser


def render(variant: Variant | None = None, issue: Issue | None = None) -> str:
    issue = issue or load_issue(SAMPLE)
    return Renderer("https://news.example.org").render(issue, variant or Variant()).html


def stubborn_issue() -> Issue:
    """The sample with long unbreakable words, the usual cause of sideways scrolling."""
    issue = load_issue(SAMPLE)
    long_word = "Hyperparameter-Optimisation-Without-Any-Spaces-" * 3
    first = issue.featured[0].model_copy(update={
        "title": f"{long_word} in a Title",
        "authors": ["A" * 60, *issue.featured[0].authors],
        "abstract": f"{issue.featured[0].abstract} See {long_word}/and/a/path/{'x' * 80}.",
        "summary_zh": (issue.featured[0].summary_zh or "") + "模" * 200,
    })
    return issue.model_copy(update={"featured": [first, *issue.featured[1:]]})


class Shot:
    """One page in the browser at one width, with every network request recorded."""

    def __init__(self, browser: Any, width: int, dark: bool = False) -> None:
        self.context = browser.new_context(
            viewport={"width": width, "height": 800},
            color_scheme="dark" if dark else "light",
        )
        self.page = self.context.new_page()
        self.requests: list[str] = []
        self.page.route("**/*", self._refuse)

    def _refuse(self, route: Any) -> None:
        # The email must load nothing by itself; record and block anything it asks for.
        self.requests.append(route.request.url)
        route.abort()

    def load(self, html: str) -> Shot:
        self.page.set_content(html, wait_until="load")
        return self

    def overflow(self) -> int:
        """How many pixels the document is wider than the window (0 when nothing scrolls)."""
        return int(self.page.evaluate(
            "document.documentElement.scrollWidth - window.innerWidth"
        ))

    def background(self, selector: str) -> str:
        return str(self.page.eval_on_selector(
            selector, "e => getComputedStyle(e).backgroundColor"
        ))

    def close(self) -> None:
        self.context.close()


@pytest.mark.parametrize("width", [375, 640])
@pytest.mark.parametrize("language", ["both", "zh", "en"])
def test_no_horizontal_scrolling(browser: Any, width: int, language: str) -> None:
    """At 375 px (phone) and 640 px the email fits the window: no sideways scrolling."""
    shot = Shot(browser, width).load(render(Variant(language)))  # type: ignore[arg-type]
    try:
        assert shot.page.evaluate("window.innerWidth") == width
        assert shot.overflow() <= 0
        assert shot.requests == []
    finally:
        shot.close()


@pytest.mark.parametrize("width", [375, 640])
def test_long_unbreakable_words_do_not_overflow(browser: Any, width: int) -> None:
    """Very long words in a title, an author and an abstract wrap instead of widening the page."""
    shot = Shot(browser, width).load(render(issue=stubborn_issue()))
    try:
        assert shot.overflow() <= 0
    finally:
        shot.close()


def test_phone_layout_uses_the_whole_width(browser: Any) -> None:
    """On a phone the content column spans the screen, and headings shrink to fit."""
    shot = Shot(browser, 375).load(render())
    try:
        card = shot.page.eval_on_selector(".nl-card", "e => e.getBoundingClientRect().width")
        assert card == 375
        h1 = shot.page.eval_on_selector("h1", "e => getComputedStyle(e).fontSize")
        assert h1 == "21px"
    finally:
        shot.close()
    desktop = Shot(browser, 1024).load(render())
    try:
        card = desktop.page.eval_on_selector(".nl-card", "e => e.getBoundingClientRect().width")
        assert card == 640  # centred at its design width on wide screens
    finally:
        desktop.close()


def test_dark_mode_changes_the_colours(browser: Any) -> None:
    """With prefers-color-scheme: dark the page and cards turn dark and the text light."""
    html = render()
    light, dark = Shot(browser, 640).load(html), Shot(browser, 640, dark=True).load(html)
    try:
        assert light.background("body") == "rgb(243, 244, 246)"
        assert light.background(".nl-card") == "rgb(255, 255, 255)"
        assert dark.background("body") == DARK_BODY
        assert dark.background(".nl-card") == DARK_CARD
        text = "e => getComputedStyle(e).color"
        assert light.page.eval_on_selector(".nl-paper p:not(.nl-meta)", text) != (
            dark.page.eval_on_selector(".nl-paper p:not(.nl-meta)", text)
        )
        assert dark.page.eval_on_selector("h1", text) == "rgb(230, 237, 243)"
        # A muted link is muted throughout, including its English half in a <span>.
        muted = dark.page.eval_on_selector("a.nl-muted", text)
        assert dark.page.eval_on_selector("a.nl-muted span", text) == muted != "rgb(230, 237, 243)"
    finally:
        light.close()
        dark.close()


def test_screenshots_at_phone_and_desktop_width(browser: Any, tmp_path: Path) -> None:
    """Full-page screenshots at 375 px and 1024 px, dark and English-only, are reasonably small."""
    paths = take_screenshots(browser, tmp_path)
    assert [p.name for p in paths] == ["desktop.png", "phone.png", "phone-dark.png",
                                       "phone-english.png"]
    for path in paths:
        data = path.read_bytes()
        assert data.startswith(b"\x89PNG") and 20_000 < len(data) < 1_500_000
    phone_height = int.from_bytes(paths[1].read_bytes()[20:24], "big")
    desktop_height = int.from_bytes(paths[0].read_bytes()[20:24], "big")
    assert phone_height > desktop_height  # the phone layout is narrower, hence longer


def take_screenshots(browser: Any, folder: Path) -> list[Path]:
    """The sample, full page: desktop.png (1024 px), phone.png (375 px), phone-dark.png
    (375 px, dark mode) and phone-english.png (the sample as an English-only issue)."""
    html = render()
    english = render(Variant("en"), english_only(load_issue(SAMPLE)))
    paths = []
    for name, width, dark, page in (("desktop", 1024, False, html), ("phone", 375, False, html),
                                    ("phone-dark", 375, True, html),
                                    ("phone-english", 375, False, english)):
        shot = Shot(browser, width, dark=dark).load(page)
        try:
            path = folder / f"{name}.png"
            shot.page.screenshot(path=str(path), full_page=True)
            paths.append(path)
        finally:
            shot.close()
    return paths


def main() -> None:
    """Refresh the screenshots in docs/screenshots."""
    from playwright.sync_api import sync_playwright

    executable = shutil.which("chromium") or "/usr/bin/chromium"
    target = ROOT / "docs" / "screenshots"
    target.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, args=ARGS)
        for path in take_screenshots(chromium, target):
            print(f"{path}  {path.stat().st_size:,} bytes")
        chromium.close()


if __name__ == "__main__":
    sys.exit(main())
