"""Readers' own preferences in the database (issue 21), on SQLite and a real PostgreSQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select
from support.clock import FakeClock

from newsletter.errors import UnknownSubscriberError
from newsletter.model.editions import ReaderPreferences, parse_preferences
from newsletter.model.subscribers import NewSubscriber
from newsletter.store.db import Database, make_engine, upgrade
from newsletter.store.editions import PreferenceStore
from newsletter.store.subscribers import SubscriberStore
from newsletter.store.tables_editions import reader_preferences

START = dt.datetime(2026, 12, 6, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    upgrade(database_url)
    db = Database(make_engine(database_url))
    yield db
    db.close()


def _rows(db: Database) -> int:
    with db.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(reader_preferences)).scalar_one())


def test_preferences_are_saved_read_and_logged(db: Database) -> None:
    """Saved preferences read back equal; the reader's history says what they are now;
    saving the default removes the row (no row is the default)."""
    readers = SubscriberStore(db, FakeClock(START))
    prefs = PreferenceStore(db, FakeClock(START))
    reader = readers.add("a@example.org", status="active")
    assert prefs.get(reader.id) == ReaderPreferences()
    chosen = parse_preferences("paused:2026-12-09", "3", "author:Kaiming He; 扩散模型")
    prefs.set(reader.id, chosen, "preferences page")
    assert prefs.get(reader.id) == chosen and prefs.chosen() == {reader.id: chosen}
    last = readers.events(reader.id)[-1]
    assert last.kind == "delivery" and "paused:2026-12-09" in last.reason
    assert "max papers 3" in last.reason and "follows 2" in last.reason
    prefs.set(reader.id, ReaderPreferences())
    assert _rows(db) == 0 and prefs.get(reader.id) == ReaderPreferences()
    with pytest.raises(UnknownSubscriberError):
        prefs.set(reader.id + 100, chosen)


def test_imported_rows_keep_their_preferences_and_erasure_removes_them(db: Database) -> None:
    """``add_many`` stores each new row's preferences (not those of rows already listed);
    erasing the address deletes its preferences with it."""
    readers = SubscriberStore(db, FakeClock(START))
    prefs = PreferenceStore(db)
    weekly = parse_preferences("weekly:MON", "", "affiliation:MIT")
    readers.add("old@example.org", status="active")
    result = readers.add_many([
        NewSubscriber("old@example.org", preferences=weekly),
        NewSubscriber("new@example.org", preferences=weekly),
        NewSubscriber("plain@example.org"),
    ])
    assert (result.added, result.already_present) == (2, 1)
    by_email = {readers.get(i).email: p for i, p in prefs.chosen().items()}  # type: ignore[union-attr]
    assert by_email == {"new@example.org": weekly}
    readers.remove("new@example.org")
    assert _rows(db) == 0


def test_the_snapshot_leaves_out_weekly_and_paused_readers_and_keys_the_limit(
    db: Database,
) -> None:
    """The daily snapshot takes daily readers and those whose pause ended by the issue's
    day, each variant key ending in the paper limit; the plan's counts agree with it."""
    from newsletter.store.campaigns import CampaignStore

    readers, prefs = SubscriberStore(db, FakeClock(START)), PreferenceStore(db)
    chosen = {
        "daily@example.org": ("daily", ""), "five@example.org": ("daily", "5"),
        "weekly@example.org": ("weekly:MON", ""), "paused@example.org": ("paused:2026-12-10", ""),
        "back@example.org": ("paused:2026-12-09", "3"),
    }
    for address, (frequency, limit) in chosen.items():
        reader = readers.add(address, status="active", language="zh", categories={"LG"})
        prefs.set(reader.id, parse_preferences(frequency, limit, ""))
    campaigns = CampaignStore(db, FakeClock(START))
    assert campaigns.variant_counts(["LG"], "2026-12-09") == {
        "zh:*": 1, "zh:*:3": 1, "zh:*:5": 1}
    assert campaigns.waiting_readers("2026-12-09") == ({0: 1}, 1)
    assert campaigns.count_left_out(["CV"], "2026-12-09") == 3
    campaign, _ = campaigns.start("2026-12-09", "x.yaml", ["LG"])
    assert campaign.total == 3
    assert campaigns.deliveries_by_variant(campaign.id) == {
        "zh:*": 1, "zh:*:3": 1, "zh:*:5": 1}
