"""The rendered emails as the strictest mail clients show them, in a real headless Chromium.

Three ways of showing the same HTML, after the caniemail data:

* ``full``: every CSS rule, as Apple Mail and iOS Mail show it;
* ``no-style``: ``<style>`` blocks removed, as Gmail's apps for non-Google accounts and
  Outlook's mobile apps do; ``position`` and ``display:none`` ignored as well;
* ``gmail``: Gmail's subset: ``<style>`` rules with attribute selectors, ``:root`` or
  ``prefers-color-scheme`` dropped, ``position`` and ``display:none`` ignored everywhere.

Every kind of email (``support.emails.CASES``) is checked in each at phone and desktop
widths, and axe-core checks accessibility in light and dark mode, of every issue case and
every transactional email (``support.emails.TRANSACTIONAL``: the confirmation in each
language, the desk's sign-in email, and any template added later, such as a welcome).
"""

from __future__ import annotations

import email
import email.policy
import re
from email.message import EmailMessage
from typing import Any

import pytest
from support.axe import AxeUnavailable, axe_source
from support.emails import CASES, TRANSACTIONAL, cases, rendered, transactional_message

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
            ".nl-paper", "els => els.map(e => e.innerText).join('\\n')"
        )
        contents = client.page.eval_on_selector_all(
            ".nl-contents", "els => els.map(e => e.innerText).join('\\n')"
        )
        for paper in issue.papers:
            if variant.wants(paper.category):
                assert shown.count(paper.title) == 1, (paper.title, mode)
                assert contents.count(paper.title) <= 1, (paper.title, mode)
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


# The legend's text, line by line as laid out (characters grouped by their line's top).
_LINES = """
(selector) => {
  const lines = {};
  const walker = document.createTreeWalker(document.querySelector(selector), NodeFilter.SHOW_TEXT);
  let node;
  while ((node = walker.nextNode())) {
    for (let i = 0; i < node.textContent.length; i++) {
      const range = document.createRange();
      range.setStart(node, i);
      range.setEnd(node, i + 1);
      const rect = range.getClientRects()[0];
      if (rect) {
        const top = Math.round(rect.top);
        lines[top] = (lines[top] || '') + node.textContent[i];
      }
    }
  }
  return Object.keys(lines).sort((a, b) => a - b).map((k) => lines[k]);
}
"""


@pytest.mark.parametrize("mode", MODES)
def test_category_legend_never_breaks_inside_a_word(browser: Any, htmls: dict[str, str],
                                                    mode: str) -> None:
    """At 320 px each category name's words, Chinese ("计算与语言") or English, stay whole
    on one line; the legend wraps between them."""
    client = Client(browser, mode)
    try:
        for case in ("zh", "both", "en"):
            client.show(htmls[case], 320)
            lines = client.page.evaluate(_LINES, ".nl-legend")
            assert len(lines) > 1, case  # it does wrap at this width
            words = re.findall(r"[\u4e00-\u9fff]+|[A-Za-z]+", "".join(lines))
            for word in words:
                assert any(word in line for line in lines), (case, mode, word, lines)
    finally:
        client.close()


def serious_violations(client: Client, axe: str) -> list[object]:
    """What axe-core finds of serious or critical impact on the page shown."""
    client.page.add_script_tag(content=axe)
    result = client.page.evaluate("async () => await axe.run(document)")
    assert result["passes"], "axe ran no check"
    return [
        (v["id"], v["impact"], [n["html"][:120] for n in v["nodes"][:3]])
        for v in result["violations"] if v["impact"] in ("serious", "critical")
    ]


@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
@pytest.mark.parametrize("case", CASES)
def test_axe_finds_no_serious_violations(browser: Any, htmls: dict[str, str], axe: str,
                                         case: str, dark: bool) -> None:
    """axe-core reports no violation of serious or critical impact, in light and dark mode."""
    client = Client(browser, "full", dark=dark).show(htmls[case], 600)
    try:
        assert serious_violations(client, axe) == [], case
    finally:
        client.close()


def html_part(message: bytes) -> str:
    parsed = email.message_from_bytes(message, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    part = next(p for p in parsed.walk() if p.get_content_type() == "text/html")
    assert isinstance(part, EmailMessage)
    return str(part.get_content())


@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
@pytest.mark.parametrize("name", TRANSACTIONAL)
def test_axe_finds_nothing_serious_in_transactional_emails(
    browser: Any, axe: str, name: str, dark: bool
) -> None:
    """Every transactional email, light and dark, at a phone's width and a desktop's: no
    serious or critical violation (the confirmation's button kept 2.54:1 in dark mode)."""
    client = Client(browser, "full", dark=dark)
    try:
        for width in (375, 600):
            client.show(html_part(transactional_message(name)), width)
            assert serious_violations(client, axe) == [], (name, width)
        assert client.requests == []
    finally:
        client.close()


def test_the_button_keeps_white_on_blue_in_dark_mode(browser: Any) -> None:
    """The check can fail where it failed before: the Confirm button's text is white on
    its blue in dark mode, not the link colour the dark rules give other links."""
    client = Client(browser, "full", dark=True).show(html_part(transactional_message(
        "confirm-en")), 375)
    try:
        colours = client.page.eval_on_selector(
            ".nl-button a", "a => [getComputedStyle(a).color, getComputedStyle(a).backgroundColor]")
        assert colours == ["rgb(255, 255, 255)", "rgb(10, 88, 202)"]
    finally:
        client.close()
