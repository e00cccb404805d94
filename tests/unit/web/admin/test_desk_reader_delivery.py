"""The desk's reader page shows and changes a reader's delivery choices (issue 21)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support.desk import EDITOR, DeskSite, desk_site

from newsletter.model.editions import parse_preferences
from newsletter.settings import get_settings
from newsletter.store.db import Database
from newsletter.store.desk import DeskStore
from newsletter.store.editions import PreferenceStore
from newsletter.store.subscribers import SubscriberStore


@pytest.fixture
def desk(db: Database, tmp_path: Path) -> Iterator[DeskSite]:
    with desk_site(get_settings(), db, tmp_path / "outbox") as site:
        yield site


def test_an_editor_sets_a_readers_frequency_limit_and_follows(
    desk: DeskSite, db: Database,
) -> None:
    """The page shows the current choices; a POST with the CSRF token saves new ones, is
    audited and comes back with a message; a bad value changes nothing and says why."""
    token = desk.sign_in()
    reader = SubscriberStore(db).add("r@example.org", status="active")
    page = desk.client.get(f"/admin/subscribers/{reader.id}")
    assert "Now: <b>daily</b>, every papers per email, follows nothing." in page.text
    path = f"/admin/subscribers/{reader.id}/delivery"
    form = {"csrf": token, "frequency": "weekly", "weekday": "THU", "until": "",
            "max_papers": "5", "keywords": "diffusion\n扩散模型", "authors": "Kaiming He",
            "affiliations": ""}
    assert desk.client.post(path, data={**form, "csrf": ""}).status_code == 403
    done = desk.client.post(path, data=form)
    assert done.headers["location"] == f"/admin/subscribers/{reader.id}?done=delivery"
    assert PreferenceStore(db).get(reader.id) == parse_preferences(
        "weekly:THU", "5", "diffusion; 扩散模型; author:Kaiming He")
    shown = desk.client.get(done.headers["location"])
    assert "Saved how often this reader gets mail" in shown.text
    assert "weekly:THU" in shown.text and "author:Kaiming He" in shown.text
    audit = [(e.actor, e.action, e.detail) for e in DeskStore(db).audit_entries(10)]
    assert (EDITOR, "reader delivery", "weekly:THU, max 5, 3 follows") in audit
    bad = desk.client.post(path, data={**form, "max_papers": "7"})
    assert bad.headers["location"].endswith("?error=max_papers")
    assert "Choose all, 10, 5 or 3 papers per email." in desk.client.get(
        bad.headers["location"]).text
    assert PreferenceStore(db).get(reader.id).max_papers == 5
