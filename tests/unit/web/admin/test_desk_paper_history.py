"""The issue editor and the paper index: "featured before on DATE", and saves re-indexed."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.archive import campaign, write_issue
from support.desk import DeskSite, desk_site
from unit.web.admin.test_desk_editor import PAGE, submit

from newsletter.settings import get_settings
from newsletter.store.db import Database


@pytest.fixture
def desk(db: Database, tmp_path: Path) -> Iterator[DeskSite]:
    folder = tmp_path / "issues"
    for day in ("2022-09-06", "2022-09-07"):
        write_issue(folder, day)
        campaign(os.environ["NEWSLETTER_DATABASE_URL"], day, "done")
    settings = get_settings().model_copy(update={"issues_dir": folder})
    with desk_site(settings, db, tmp_path / "outbox") as site:
        site.sign_in()
        yield site


def test_editor_says_which_papers_readers_had_before(desk: DeskSite) -> None:
    """Each paper an earlier published issue featured says so, with that issue's date and
    a link to the paper's page; the earlier issue's own editor says nothing of the kind."""
    page = desk.client.get(PAGE).text
    assert page.count("Featured before on 2022-09-06") == page.count('type="url"') > 0
    assert 'href="/papers/2209.01947"' in page
    assert "Featured before" not in desk.client.get("/admin/issues/2022-09-06").text


def test_a_save_reaches_search_at_once(desk: DeskSite) -> None:
    """A published issue saved on the desk is re-indexed before the redirect: search finds
    the new title without waiting for the archive's next check."""
    assert "Nothing found" in desk.client.get("/search?q=thoroughly").text
    saved = submit(desk, desk.client.get(PAGE).text,
                   featured__1__title="A Thoroughly Renamed Survey")
    assert saved.status_code == 303
    found = desk.client.get("/search?q=thoroughly").text
    assert 'href="/papers/2209.01667"' in found
