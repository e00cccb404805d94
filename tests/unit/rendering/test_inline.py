"""StyleInliner against premailer: the same HTML, byte for byte, for every kind of email."""

from __future__ import annotations

import re

import mjml
import pytest
from support.emails import CASES, cases
from support.env import SAMPLE_ISSUE

from newsletter.errors import RenderError
from newsletter.issues.loader import load_issue
from newsletter.rendering.inline import PremailerInliner, StyleInliner, inliner_for
from newsletter.rendering.renderer import Renderer
from newsletter.vocabulary import Variant

BASE_URL = "https://news.example.org"


def premailer_inline(html: str, css: str) -> str:
    """What the renderer did before StyleInliner: premailer, with MJML's <style>s left alone."""
    return PremailerInliner(css).inline(html)


def mjml_sources(renderer: Renderer) -> dict[str, str]:
    """The compiled, not yet inlined HTML of every case, and of a shortened issue."""
    sources = {}
    for name in CASES:
        issue, variant = cases()[name]
        context = renderer._context(issue, variant, None)
        sources[name] = renderer.env.get_template("email/issue.mjml.j2").render(context)
    issue = load_issue(SAMPLE_ISSUE)
    context = renderer._context(issue, Variant("both"), 120)
    sources["shortened"] = renderer.env.get_template("email/issue.mjml.j2").render(context)
    return {name: mjml.mjml2html(src, disable_comments=True, fonts={})
            for name, src in sources.items()}


def test_same_html_as_premailer() -> None:
    """For every kind of email, StyleInliner writes exactly what premailer wrote."""
    renderer = Renderer(BASE_URL)
    css = renderer._inline_css
    inliner = StyleInliner(css)
    for name, html in mjml_sources(renderer).items():
        ours = inliner.inline(html)
        assert ours == premailer_inline(html, css), name
        assert 'style="font-size:18px; line-height:1.35; margin:4px 0"' in ours or (
            name.endswith("no-paper") or "notable-only" in name
        )


def test_own_style_wins_and_unset_is_dropped() -> None:
    """An element's own style overrides the sheet; `unset` removes a property; like premailer."""
    css = ("p { color: red; margin: 0 } .x { margin: unset; text-align: center } "
           "b { width: 10px } div.c p b { color: green } .c .x { font-size: 2px }")
    html = ('<!doctype html><html><head></head><body><p style="color: blue">a</p>'
            '<p class="x">b</p><b>c</b><div class="c d"><span><p class="x">d<b>e</b></p>'
            '</span></div></body></html>')
    ours = StyleInliner(css).inline(html)
    assert ours == premailer_inline(html, css)
    assert '<p style="color:blue; margin:0">a</p>' in ours
    assert '<p class="x" style="color:red; text-align:center" align="center">b</p>' in ours
    assert '<b style="width:10px" width="10">c</b>' in ours
    nested = '<p class="x" style="color:red; text-align:center; font-size:2px" align="center">d'
    assert nested in ours
    assert '<b style="width:10px; color:green" width="10">e</b>' in ours


def test_rules_that_cannot_be_inlined_are_refused() -> None:
    """@media rules and pseudo-classes in the inlined sheet are an error naming the rule."""
    with pytest.raises(RenderError, match="@media"):
        StyleInliner("@media (max-width: 480px) { p { color: red } }")
    for selector in ("a:hover", "div > p", "[data-x] p", "#top"):
        with pytest.raises(RenderError, match=re.escape(selector)):
            StyleInliner(f"{selector} {{ color: red }}")


def test_selectors_the_fast_path_cannot_match_fall_back_to_premailer() -> None:
    """A child combinator or a pseudo-class in an operator's CSS is inlined by premailer."""
    css = ".card > p { color: #111111 } p:first-child { margin: 0 }"
    inliner = inliner_for(css)
    assert isinstance(inliner, PremailerInliner)
    html = inliner.inline(
        '<!doctype html><html><head></head><body><div class="card"><p>a</p></div></body></html>'
    )
    assert '<p style="margin:0; color:#111">a</p>' in html, html


def test_media_rules_are_refused_by_both() -> None:
    """@media belongs in head.css; neither inliner takes it silently."""
    with pytest.raises(RenderError, match=r"head\.css"):
        inliner_for("@media (max-width: 480px) { p { margin: 0 } }")
