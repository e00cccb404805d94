"""The reader's "For you" block in an inline template (issue 23 with issue 21's block):
its place as a placeholder, its value as data, rendered as SES's Handlebars renders it."""

from __future__ import annotations

import pytest
from support.ses_bulk_sim import render

from newsletter.mail.bulk import LITERALS, with_block

CONTENT = "<p>{{x}} \\ a {{{u}}}</p><div>list</div>"
AT = CONTENT.index("<div>")
BLOCK = '<h2>For you</h2><p>{{#each r}}{{this}}{{/each}} &amp; "{{{lb}}}" \\</p>'


def test_the_block_goes_where_the_rendering_left_its_place_as_written() -> None:
    """Template syntax around the place and inside the block reaches the reader as is."""
    template, literal = with_block(CONTENT, AT, "fh")
    assert literal  # the content's own {{ needs the literals
    data = dict(LITERALS) | {"fh": BLOCK}
    assert render(template, data) == CONTENT[:AT] + BLOCK + CONTENT[AT:]
    assert render(template, dict(LITERALS) | {"fh": ""}) == CONTENT


def test_no_place_leaves_the_content_alone() -> None:
    template, _ = with_block(CONTENT, None, "fh")
    assert "fh" not in template
    assert render(template, dict(LITERALS)) == CONTENT


@pytest.mark.parametrize("content", ["a{<div>", "a\\<div>", "a<div}"])
def test_a_place_touching_template_syntax_is_refused(content: str) -> None:
    """A ``{`` or backslash before, or ``}`` after, would change the placeholder's meaning."""
    at = content.index("}") if content.endswith("}") else content.index("<div")
    with pytest.raises(ValueError, match="touches template syntax"):
        with_block(content, at, "fh")
