"""A stylesheet's rules are parsed once per text: the same text gives the same rules (in a
list of the caller's own), another text its own rules, and bad CSS is refused every time."""

from __future__ import annotations

import pytest

from newsletter.errors import RenderError
from newsletter.rendering.inline import StyleInliner, parse_rules

CSS = "p { color: red } .nl-card p { color: blue !important }"


def test_the_same_text_gives_equal_rules_in_a_new_list() -> None:
    first, second = parse_rules(CSS), parse_rules(CSS)
    assert first == second
    assert first is not second
    first.clear()
    assert parse_rules(CSS) == second
    assert [rule.selector for rule in second] == ["p", ".nl-card p"]


def test_another_text_gets_its_own_rules() -> None:
    parse_rules(CSS)
    assert [r.declarations for r in parse_rules("p { color: green }")] == [(("color", "green"),)]
    html = "<html><body><p>x</p></body></html>"
    assert 'style="color:green"' in StyleInliner("p { color: green }").inline(html)
    assert 'style="color:red"' in StyleInliner(CSS).inline(html)


def test_css_that_cannot_be_inlined_is_refused_each_time() -> None:
    for _ in range(2):
        with pytest.raises(RenderError, match=r"at-rules belong in head\.css"):
            parse_rules("@media (max-width: 480px) { p { color: red } }")
