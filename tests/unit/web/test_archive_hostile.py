"""The archive under hostile input: characters XML cannot carry, absurd page numbers
(issue #24, items 11 and 12)."""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import etree
from starlette.testclient import TestClient
from support.archive import campaign, write_issue

from newsletter.errors import IssueValidationError
from newsletter.issues.loader import load_issue
from newsletter.settings import get_settings
from newsletter.web.app import create_app

NOW = dt.datetime(2022, 9, 10, 4, 0, tzinfo=dt.UTC)


@pytest.fixture
def issues(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "issues"
    monkeypatch.setenv("NEWSLETTER_ISSUES_DIR", str(folder))
    return folder


@pytest.fixture
def client(issues: Path) -> Iterator[TestClient]:
    with TestClient(create_app(get_settings(), clock=lambda: NOW),
                    follow_redirects=False) as client:
        yield client


def hostile_issue(issues: Path, date: str, escape: str) -> Path:
    """An issue whose title carries ``escape`` (a YAML double-quoted escape like \\uFFFE)."""
    path = write_issue(issues, date)
    text, count = re.subn(r"^title: .*$", lambda _: f'title: "AI {escape} 前沿论文速递"',
                          path.read_text("utf-8"), count=1, flags=re.M)
    assert count == 1, "the sample issue has no title line"
    path.write_text(text, "utf-8")
    return path


def title_line(path: Path) -> int:
    lines = path.read_text("utf-8").split("\n")
    return next(n for n, line in enumerate(lines, 1) if line.startswith("title:"))


@pytest.mark.parametrize("escape", ["\\uFFFE", "\\uFFFF", "\\uD800", "\\x0B", "\\x1B"])
def test_characters_xml_cannot_carry_are_refused_at_their_line(
    issues: Path, escape: str
) -> None:
    """Written as a YAML escape, such a character is a problem at the title's line."""
    path = hostile_issue(issues, "2022-09-07", escape)
    with pytest.raises(IssueValidationError) as raised:
        load_issue(path)
    assert f"{path}:{title_line(path)}:" in str(raised.value)


@pytest.mark.parametrize("char", ["\ufffe", "\uffff"])
def test_a_raw_noncharacter_is_named_at_its_line(issues: Path, char: str) -> None:
    """Typed into the file itself, the character is named at its line and column."""
    path = write_issue(issues, "2022-09-07")
    text, count = re.subn(r"^title: ", lambda _: f"title: {char}", path.read_text("utf-8"),
                          count=1, flags=re.M)
    assert count == 1, "the sample issue has no title line"
    path.write_text(text, "utf-8")
    with pytest.raises(IssueValidationError) as raised:
        load_issue(path)
    assert f"{path}:{title_line(path)}: title: contains" in str(raised.value)
    assert f"U+{ord(char):04X}" in str(raised.value)


@pytest.mark.parametrize("escape", ["\\uFFFE", "\\uFFFF"])
@pytest.mark.slow
def test_feeds_and_pages_stay_well_formed(issues: Path, escape: str) -> None:
    """With such an issue among published ones, every feed parses as XML and lists the good
    issues; the archive answers 200."""
    write_issue(issues, "2022-09-07")
    hostile_issue(issues, "2022-09-08", escape)
    for day in ("2022-09-07", "2022-09-08"):
        campaign(os.environ["NEWSLETTER_DATABASE_URL"], day, "done")
    # The app starts after the campaigns: its clock stands still, so what it reads at start
    # (the paper index warms up then) is what it serves.
    with TestClient(create_app(get_settings(), clock=lambda: NOW),
                    follow_redirects=False) as client:
        _feeds_list_the_good_issue(client)


def _feeds_list_the_good_issue(client: TestClient) -> None:
    for url in ("/feed.xml", "/feeds/CV.xml"):
        response = client.get(url)
        assert response.status_code == 200
        tree = etree.fromstring(response.content)  # raises when not well-formed
        assert "2022-09-07" in etree.tostring(tree, encoding="unicode")
    assert client.get("/archive/").status_code == 200


@pytest.mark.parametrize("number", ["9" * 5000, "1" + "0" * 30, "99999999999", "0", "00002"])
def test_an_absurd_archive_page_number_is_not_found(client: TestClient, number: str) -> None:
    """/archive/page/<huge>/ is the 404 page, never a 500."""
    response = client.get(f"/archive/page/{number}/")
    assert response.status_code == 404
