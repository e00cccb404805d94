"""The rendered emails as the strictest mail clients show them, in a real headless Chromium.

Three ways of showing the same HTML, after the caniemail data:

* ``full``: every CSS rule, as Apple Mail and iOS Mail show it;
* ``no-style``: ``<style>`` blocks removed, as Gmail's apps for non-Google accounts and
  Outlook's mobile apps do; ``position`` and ``display:none`` ignored as well;
* ``gmail``: Gmail's subset: ``<style>`` rules with attribute selectors, ``:root`` or
  ``prefers-color-scheme`` dropped, ``position`` and ``display:none`` ignored everywhere.

Every kind of email (``support.emails.CASES``) is checked in each at phone and desktop
widths, and axe-core checks accessibility in light and dark mode.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from support.axe import AxeUnavailable, axe_source
from support.emails import CASES, cases, rendered

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
MODES = ("full", "no-style", "gmail")
PHONE_AND_DESKTOP = (320, 375, 600)
EVERY_WIDTH = (320, 375, 414, 600, 1024)
TAP_TARGET_PX = 44
_STYLE_BLOCK = re.compile(r"<style\b[^>]*>.*?</style>", re.S | re.I)

pytestmark = pytest.mark.browser

# Run in the page: what a client that ignores `position` and `display:none` shows, and
# (gmail) the <style> rules Gmail keeps. Removing properties from the CSSOM changes the
# rendering exactly as if the client had never applied them.
_UNSUPPORTED = """
(gmail) => {
  const drop = (style) => {
    style.removeProperty('position');
    if (style.getPropertyValue('display') === 'none') style.removeProperty('display');
  };
  for (const el of document.querySelectorAll('[style]')) drop(el.style);
  const keeps = (rule) => !/\\[|:root|\\*/.test(rule.selectorText || '');
  const clean = (list) => {
    for (let i = list.cssRules.length - 1; i >= 0; i--) {
      const rule = list.cssRules[i];
      if (rule.media && /prefers-color-scheme/.test(rule.media.mediaText)) {
        if (gmail) list.deleteRule(i);
        continue;
      }
      // A style rule has cssRules too (CSS nesting), so test for it first.
      if (rule instanceof CSSStyleRule) {
        if (gmail && !keeps(rule)) list.deleteRule(i); else drop(rule.style);
      } else if (rule.cssRules) {
        clean(rule);
      }
    }
  };
  for (const sheet of document.styleSheets) clean(sheet);
}
"""


@pytest.fixture(scope="module")
def browser(chromium_path: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=chromium_path, args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def axe() -> str:
    try:
        return axe_source()
    except AxeUnavailable as err:
        pytest.fail(str(err))


@pytest.fixture(scope="module")
def htmls() -> dict[str, str]:
    return {name: rendered(name).html for name in CASES}


class Client:
    """One browser page showing emails the way one kind of mail client does."""

    def __init__(self, browser: Any, mode: str, dark: bool = False) -> None:
        self.mode = mode
        self.context = browser.new_context(
            viewport={"width": 600, "height": 800}, color_scheme="dark" if dark else "light"
        )
        self.page = self.context.new_page()
        self.requests: list[str] = []
        self.page.route("**/*", self._refuse)

    def _refuse(self, route: Any) -> None:
        self.requests.append(route.request.url)
        route.abort()

    def show(self, html: str, width: int) -> Client:
        self.page.set_viewport_size({"width": width, "height": 800})
        if self.mode == "no-style":
            html = _STYLE_BLOCK.sub("", html)
        self.page.set_content(html, wait_until="load")
        if self.mode != "full":
            self.page.evaluate(_UNSUPPORTED, self.mode == "gmail")
        return self

    def overflow(self) -> int:
        return int(self.page.evaluate(
            "document.documentElement.scrollWidth - window.innerWidth"
        ))

    def heights(self, selector: str) -> list[float]:
        return [float(h) for h in self.page.eval_on_selector_all(
            selector, "els => els.map(e => e.getBoundingClientRect().height)"
        )]

    def close(self) -> None:
        self.context.close()


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", CASES)
def test_no_sideways_scrolling_in_any_client(browser: Any, htmls: dict[str, str], case: str,
                                             mode: str) -> None:
    """At 320, 375 and 600 px nothing scrolls sideways, with full CSS, without <style>, in Gmail."""
    client = Client(browser, mode)
    try:
        for width in PHONE_AND_DESKTOP:
            client.show(htmls[case], width)
            assert client.overflow() <= 0, f"{case} in {mode} at {width} px"
        assert client.requests == []
    finally:
        client.close()


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", CASES)
def test_hidden_text_stays_hidden_in_any_client(browser: Any, htmls: dict[str, str], case: str,
                                                mode: str) -> None:
    """Each paper title is shown once and the preheader takes no room, whatever CSS survives."""
    issue, variant = cases()[case]
    client = Client(browser, mode).show(htmls[case], 375)
    try:
        shown = client.page.eval_on_selector_all(
            ".nl-card", "els => els.map(e => e.innerText).join('\\n')"
        )
        for paper in issue.papers:
            if variant.wants(paper.category):
                assert shown.count(paper.title) == 1, (paper.title, mode)
        preheader = client.page.eval_on_selector(
            "body div[style*='max-height']", "e => e.getBoundingClientRect().height"
        )
        assert preheader == 0
    finally:
        client.close()


@pytest.mark.parametrize("mode", MODES)
def test_footer_links_are_44px_tap_targets(browser: Any, htmls: dict[str, str], mode: str) -> None:
    """Preferences, unsubscribe and view-in-browser links are at least 44 px tall everywhere."""
    client = Client(browser, mode)
    try:
        for case in CASES:
            for width in PHONE_AND_DESKTOP:
                client.show(htmls[case], width)
                heights = client.heights("a.nl-tap")
                assert len(heights) == 3, case
                assert min(heights) >= TAP_TARGET_PX, (case, mode, width, heights)
    finally:
        client.close()


@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
def test_phone_layout_at_every_width(browser: Any, htmls: dict[str, str], dark: bool) -> None:
    """At 320-1024 px, light and dark: no overflow, 16 px text, padded footer, whole dates."""
    client = Client(browser, "full", dark=dark)
    try:
        for case in ("zh", "both", "english-only-issue"):
            for width in EVERY_WIDTH:
                client.show(htmls[case], width)
                where = f"{case} at {width} px"
                assert client.overflow() <= 0, where
                body = client.page.eval_on_selector(
                    ".nl-paper-cell p:not([class])", "e => getComputedStyle(e).fontSize"
                )
                assert body == "16px", where
                footer_left = client.page.eval_on_selector(
                    ".nl-footer p", "e => e.getBoundingClientRect().left"
                )
                assert footer_left >= 16, where
                date_lines = client.page.eval_on_selector(
                    "h1 .nl-date", "e => e.getClientRects().length"
                )
                assert date_lines == 1, where
    finally:
        client.close()


@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
@pytest.mark.parametrize("case", CASES)
def test_axe_finds_no_serious_violations(browser: Any, htmls: dict[str, str], axe: str,
                                         case: str, dark: bool) -> None:
    """axe-core reports no violation of serious or critical impact, in light and dark mode."""
    client = Client(browser, "full", dark=dark).show(htmls[case], 600)
    try:
        client.page.add_script_tag(content=axe)
        result = client.page.evaluate("async () => await axe.run(document)")
        assert result["passes"], "axe ran no check"
        serious = [
            (v["id"], v["impact"], [n["html"][:120] for n in v["nodes"][:3]])
            for v in result["violations"] if v["impact"] in ("serious", "critical")
        ]
        assert serious == [], case
    finally:
        client.close()
