"""The paper index's JSON rows (issue 20's build speed): written with orjson, they are the
standard library's compact text byte for byte, and read back to the same record."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, replace

import pytest
from support.env import SAMPLE_ISSUE

from newsletter.issues.loader import load_issue
from newsletter.issues.papers import issue_papers
from newsletter.model.papers import Appearance
from newsletter.store.paper_rows import from_json, to_json

PAPERS = issue_papers(load_issue(SAMPLE_ISSUE))
ODD = ['a "quoted" \\ back\\slash', "line\nbreak\ttab\r", "\x01\x1f\x7f control",
       "\u2028\u2029 separators", "深度学习 ＡＢＣ 🙂 e\u0301", "</script><!--", "\ufeff"]


def stdlib(record: object) -> str:
    """The text the json module wrote for a record before orjson."""
    data = asdict(record)  # type: ignore[call-overload]
    data["appearances"] = [[a["date"].isoformat(), a["section"], a["position"], a["anchor"]]
                           for a in data["appearances"]]
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


@pytest.mark.parametrize("odd", ODD)
def test_the_json_is_the_standard_librarys_text(odd: str) -> None:
    """Every sample paper, and one carrying each awkward character in every text field,
    gives the json module's compact text and reads back as the same record."""
    records = [*PAPERS, replace(
        PAPERS[0], title=odd, title_zh=odd, authors=(odd, "B"), affiliations=(odd,),
        abstract=odd, summary_zh=odd, authors_truncated=True,
        appearances=(Appearance(dt.date(2022, 9, 7), "featured", 3, odd),
                     Appearance(dt.date(2022, 9, 8), "notable", 0, "a")))]
    for record in records:
        assert to_json(record) == stdlib(record)
        assert from_json(to_json(record)) == record
