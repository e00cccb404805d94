"""Search never fails: thousands of hostile queries and parameters get a page, never a 500."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient
from support.archive import write_issue
from support.env import SAMPLE_ISSUE
from support.hostile import hostile_queries

from newsletter.issues.loader import load_issue
from newsletter.issues.papers import issue_papers
from newsletter.settings import get_settings
from newsletter.store.db import Database, make_engine, upgrade
from newsletter.store.papers import PaperStore
from newsletter.web.app import create_app

NOW = dt.datetime(2022, 9, 10, 4, 0, tzinfo=dt.UTC)
pytestmark = pytest.mark.e2e  # thousands of requests: 10-20 s each


@pytest.fixture
def client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("NEWSLETTER_ISSUES_DIR", str(tmp_path / "issues"))
    monkeypatch.setenv("NEWSLETTER_ARCHIVE_UNSENT", "true")
    write_issue(tmp_path / "issues", "2022-09-07")
    app = create_app(get_settings(), clock=lambda: NOW)
    with TestClient(app, follow_redirects=False, raise_server_exceptions=False) as client:
        yield client


def test_thousands_of_hostile_queries_get_a_page(client: TestClient) -> None:
    """2,000 hostile queries (FTS5, tsquery and SQL syntax, control characters, 10 KB of
    junk) with hostile filters and pages: each answers 200 (or a redirect to a paper)."""
    filters = ["", "LG", "lg", "'", "x" * 300, "LG OR 1=1"]
    years = ["", "2022", "-1", "99999999999999999999", "２０２２", "2022.5", "0x7e6"]
    pages = ["", "1", "0", "-3", "51", "9" * 40, "١"]
    statuses: dict[int, int] = {}
    for n, query in enumerate(hostile_queries(2_000)):
        params = {"q": query, "category": filters[n % len(filters)],
                  "year": years[n % len(years)], "page": pages[n % len(pages)]}
        answer = client.get("/search", params=params)
        statuses[answer.status_code] = statuses.get(answer.status_code, 0) + 1
        assert answer.status_code in (200, 303), (query[:80], answer.status_code)
    assert statuses[200] > 1_900
    # Raw bytes that are not UTF-8 in the query string, and paper paths of junk.
    assert client.get("/search?q=%ff%fe%00&year=%ff").status_code == 200
    for path in ("/papers/%00", "/papers/..%2f..%2fetc%2fpasswd", "/papers/" + "9" * 5000,
                 "/papers/2209.01947.bib.ris", "/papers/hep-th/9901001/../x"):
        assert client.get(path).status_code in (301, 404), path


def test_hostile_queries_on_both_databases(database_url: str) -> None:
    """The same queries straight at the store, on SQLite and on PostgreSQL: no error."""
    upgrade(database_url)
    db = Database(make_engine(database_url))
    try:
        store = PaperStore(db)
        store.apply({"2022-09-07": ("v1", issue_papers(load_issue(SAMPLE_ISSUE)))})
        for query in hostile_queries(2_000, seed=7):
            store.search(query, category="LG" if len(query) % 2 else None)
    finally:
        db.close()
