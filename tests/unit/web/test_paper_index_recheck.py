"""The running app compares the paper index with the published issues again every
``RECHECK_SECONDS`` (issue 20): an index emptied by a rebuild killed midway in another
process comes back without waiting for an issue file to change."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import pytest
from starlette.testclient import TestClient
from support.archive import write_issue

from newsletter.settings import get_settings
from newsletter.store.db import open_database
from newsletter.store.papers import PaperStore
from newsletter.web import paper_routes
from newsletter.web.app import create_app

NOW = dt.datetime(2022, 9, 10, 4, 0, tzinfo=dt.UTC)


@pytest.fixture
def issues(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "issues"
    monkeypatch.setenv("NEWSLETTER_ISSUES_DIR", str(folder))
    monkeypatch.setenv("NEWSLETTER_ARCHIVE_UNSENT", "true")
    write_issue(folder, "2022-09-07")
    return folder


def hits(client: TestClient, query: str) -> int:
    return client.get("/search", params={"q": query}).text.count('href="/papers/')


def test_an_index_emptied_behind_the_apps_back_comes_back(
        issues: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Another process empties the index (``reindex --full`` killed after its clear):
    the app, whose issue files did not change, fills it again on its next recheck, and
    the search filters (categories, years) follow."""
    monkeypatch.setattr(paper_routes, "RECHECK_SECONDS", 0.1)
    with TestClient(create_app(get_settings(), clock=lambda: NOW)) as client:
        found = hits(client, "sparse")
        assert found > 0
        assert "<option>LG</option>" in client.get("/search").text
        db = open_database(get_settings().database_url)
        try:
            PaperStore(db).clear()
        finally:
            db.close()
        # (A request in between may still find nothing: the recheck has not run yet.)
        deadline = time.monotonic() + 20
        while hits(client, "sparse") != found:
            assert time.monotonic() < deadline, "the emptied index never came back"
            time.sleep(0.05)
        assert "<option>LG</option>" in client.get("/search", params={"q": "sparse"}).text


def test_a_missing_issues_folder_drops_nothing_and_is_said_once(
        issues: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The issues folder gone (a mistyped NEWSLETTER_ISSUES_DIR on a restart, a moved
    mount): the app keeps its index and logs the problem once, instead of dropping every
    paper at the next request (found by trying it)."""
    clock = [NOW]
    with TestClient(create_app(get_settings(), clock=lambda: clock[0])) as client:
        found = hits(client, "sparse")
        assert found > 0
        issues.rename(issues.parent / "moved")
        for seconds in (2, 4, 6):  # past the archive's once-a-second check
            clock[0] = NOW + dt.timedelta(seconds=seconds)
            assert hits(client, "sparse") == found
    said = [r for r in caplog.records if "does not exist" in r.getMessage()]
    assert len(said) == 1 and said[0].levelname == "ERROR"
