"""The loader's quick path for clean files gives what the full reading gives, and leaves
every file with a problem to the full reading, which locates it."""

from __future__ import annotations

import random

import pytest
from support.env import SAMPLE_ISSUE

from newsletter.errors import IssueValidationError
from newsletter.issues.loader import _clean_issue, parse_document, parse_issue

TEXT = SAMPLE_ISSUE.read_text("utf-8")
PATH = str(SAMPLE_ISSUE)
# The first featured paper's category, a line the edits below change.
CATEGORY = "featured:\n- category: LG\n"


def test_a_clean_file_takes_the_quick_path_to_the_same_issue() -> None:
    """The sample issue is read the quick way, and equals the full reading's issue."""
    quick = _clean_issue(TEXT, PATH)
    assert quick is not None
    assert quick == parse_document(TEXT, PATH).issue == parse_issue(TEXT, PATH)
    assert quick == _clean_issue(TEXT.replace("\n", "\r\n"), PATH)


@pytest.mark.parametrize(("name", "text", "message"), [
    ("key given twice", TEXT.replace(CATEGORY, CATEGORY + "  category: CV\n", 1),
     "is given twice"),
    ("unknown category", TEXT.replace(CATEGORY, "featured:\n- category: XX\n", 1),
     "is not in the category legend"),
    ("control character", TEXT.replace("title_en: AI", "title_en: A\x07I", 1),
     "control character U+0007"),
    ("date against file name", TEXT.replace("date: 2022-09-07", "date: 2022-09-08", 1),
     "does not match the file name"),
    ("too deep", TEXT + "footer: " + "[" * 20 + "]" * 20 + "\n", "nested more than"),
    ("not a mapping", "- a\n- b\n", "must be a YAML mapping"),
])
def test_a_file_with_a_problem_gets_the_full_reading(name: str, text: str,
                                                     message: str) -> None:
    """Each kind of problem leaves the quick path, and the error is the full reading's,
    with its line."""
    assert _clean_issue(text, PATH) is None, name
    with pytest.raises(IssueValidationError) as quick:
        parse_issue(text, PATH)
    with pytest.raises(IssueValidationError) as full:
        parse_document(text, PATH)
    assert str(quick.value) == str(full.value)
    assert message in str(quick.value)


@pytest.mark.parametrize("own", ["    zh: 计算机视觉\n", ""])
def test_a_merge_key_is_read_alike_on_both_paths(own: str) -> None:
    """A mapping with a merge (<<) is judged alike by both paths: refused where it gives
    a key again (after merging, as the full reading sees it), accepted where it does not."""
    text = TEXT.replace("categories:\n  LG:\n", "categories:\n  LG: &lg\n", 1).replace(
        "  CV:\n    zh: 计算机视觉\n    en: Computer Vision\n",
        "  CV:\n    <<: *lg\n" + own, 1)
    assert text.count("<<: *lg") == 1
    try:
        full = parse_document(text, PATH).issue
    except IssueValidationError as err:
        assert own and "is given twice" in str(err)
        assert _clean_issue(text, PATH) is None
        with pytest.raises(IssueValidationError) as quick:
            parse_issue(text, PATH)
        assert str(quick.value) == str(err)
    else:
        assert not own
        assert _clean_issue(text, PATH) == full == parse_issue(text, PATH)
        assert full.categories["CV"] == full.categories["LG"]


@pytest.mark.slow
def test_both_paths_agree_on_mangled_files() -> None:
    """Lines of the sample dropped, repeated, swapped or re-indented at random (seeded):
    the quick path and the full reading give the same issue or the same error."""
    rng = random.Random(20)
    lines = TEXT.split("\n")
    agreed = refused = 0
    for _ in range(150):
        mangled = list(lines)
        for _ in range(rng.randrange(1, 3)):
            n = rng.randrange(len(mangled))
            how = rng.randrange(4)
            if how == 0:
                del mangled[n]
            elif how == 1:
                mangled.insert(n, mangled[n])
            elif how == 2:
                m = rng.randrange(len(mangled))
                mangled[n], mangled[m] = mangled[m], mangled[n]
            else:
                mangled[n] = "  " + mangled[n]
        text = "\n".join(mangled)
        try:
            full: object = parse_document(text, PATH).issue
        except IssueValidationError as err:
            full = str(err)
        try:
            quick: object = parse_issue(text, PATH)
        except IssueValidationError as err:
            quick = str(err)
        assert quick == full, text
        agreed += 1
        refused += isinstance(full, str)
    assert agreed == 150 and 0 < refused < 150
