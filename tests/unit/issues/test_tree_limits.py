"""The quick path's limits (issue 20's build speed): for a file without anchors or aliases
the limits are checked on the node tree loading builds anyway. That check may send a fine
file to the full reading (which costs time), but must never pass a file the event pass
(``limit_problem``) refuses."""

from __future__ import annotations

import contextlib

import pytest
import yaml
from support.env import SAMPLE_ISSUE
from support.hostile import hostile_files

from newsletter.errors import IssueValidationError
from newsletter.issues.limits import (
    MAX_DEPTH,
    MAX_NUMBER_CHARS,
    MAX_VALUES,
    alias_free,
    limit_problem,
    tree_within_limits,
)
from newsletter.issues.loader import _clean_issue, parse_document, parse_issue

TEXT = SAMPLE_ISSUE.read_text("utf-8")
PATH = str(SAMPLE_ISSUE)


def tree_says(text: str) -> bool:
    root = yaml.compose(text, Loader=yaml.CSafeLoader)
    assert root is not None
    return tree_within_limits(root)


def nested(depth: int) -> str:
    """A mapping ``depth`` collections deep in all (the top one included)."""
    return "date:\n" + "".join("  " * n + "a:\n" for n in range(1, depth - 1)) + \
        "  " * (depth - 1) + "- x\n"


def values(count: int) -> str:
    """A document of exactly ``count`` values (the mapping, its key, the list, the items)."""
    return "date: [" + ",".join(["1"] * (count - 3)) + "]\n"


@pytest.mark.parametrize(("text", "within"), [
    (nested(MAX_DEPTH), True),
    (nested(MAX_DEPTH + 1), False),
    (values(MAX_VALUES), True),
    (values(MAX_VALUES + 1), False),
    ("date: " + "9" * MAX_NUMBER_CHARS + "\n", True),
    ("date: " + "9" * (MAX_NUMBER_CHARS + 1) + "\n", False),
    ("date: 1." + "5" * MAX_NUMBER_CHARS + "\n", False),
    ("date: 0x" + "f" * MAX_NUMBER_CHARS + "\n", False),
    ("date: '" + "9" * 100 + "'\n", True),  # quoted: text, not a number
    ("title: " + "word " * 100 + "\n", True),
])
@pytest.mark.slow
def test_the_tree_check_agrees_with_the_event_pass_at_each_limit(text: str,
                                                                 within: bool) -> None:
    """At each limit and one past it, both checks give the same answer."""
    assert alias_free(text)
    assert tree_says(text) is within
    assert (limit_problem(text, PATH) is None) is within


def test_the_tree_check_is_never_looser_than_the_event_pass() -> None:
    """A tagged number (``!!int "..."``) is no plain scalar, so the event pass lets it
    through; the tree check doubts it: slower for that file, never a limit missed."""
    text = 'date: !!int "' + "9" * (MAX_NUMBER_CHARS + 1) + '"\n'
    assert limit_problem(text, PATH) is None
    assert not tree_says(text)


@pytest.mark.parametrize("name", sorted(hostile_files()))
def test_a_hostile_file_never_passes_the_quick_path(name: str) -> None:
    """Every hostile file is left to the full reading, which refuses it as before."""
    text = hostile_files()[name]
    if alias_free(text) and len(text) < 1_000_000:
        # libyaml refuses the 5,000-level one before any tree is built.
        with contextlib.suppress(yaml.YAMLError):
            assert not tree_says(text), name
    assert _clean_issue(text, PATH) is None, name
    with pytest.raises(IssueValidationError):
        parse_issue(text, PATH)


def test_the_sample_issue_is_checked_on_its_tree() -> None:
    """The sample (no anchors) passes the tree check and reads as the full reading does;
    with an anchor and an alias added it is checked by the event pass, to the same issue."""
    assert alias_free(TEXT) and tree_says(TEXT)
    assert _clean_issue(TEXT, PATH) == parse_document(TEXT, PATH).issue
    anchored = TEXT.replace("categories:\n  LG:\n", "categories:\n  LG: &lg\n", 1) + \
        "x_unused: *lg\n"
    assert not alias_free(anchored)
    assert _clean_issue(anchored, PATH) is None  # an unknown field: the full reading says so
    with pytest.raises(IssueValidationError, match="x_unused"):
        parse_issue(anchored, PATH)
