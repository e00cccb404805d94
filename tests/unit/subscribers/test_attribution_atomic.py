"""An unsubscribe or a preference change and its attribution to an issue are one
transaction (issue 17): a failure writing the attribution leaves the reader as they were."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from support.clock import FakeClock
from support.env import TEST_SECRET

from newsletter import wiring
from newsletter.settings import get_settings
from newsletter.store.actions import ReaderActions
from newsletter.store.db import Database, open_database, upgrade
from newsletter.store.subscribers import SubscriberStore
from newsletter.store.tables_activity import reader_actions
from newsletter.subscribers.choices import Choices
from newsletter.subscribers.workflow import ConfirmationMailer, Subscriptions
from newsletter.tokens import Purpose, make_token
from newsletter.transports.outbox import OutboxTransport

START = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)


@dataclass
class World:
    db: Database
    subs: Subscriptions
    store: SubscriberStore

    def actions(self) -> int:
        with self.db.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(reader_actions))
                       .scalar_one())

    def break_attribution(self, broken: bool) -> None:
        """A real fault: the attribution's table is not there (or is back)."""
        old, new = ("reader_actions", "reader_actions_away") if broken else (
            "reader_actions_away", "reader_actions")
        with self.db.engine.begin() as conn:
            conn.execute(text(f"ALTER TABLE {old} RENAME TO {new}"))


@pytest.fixture
def world(database_url: str, tmp_path: Path) -> Iterator[World]:
    upgrade(database_url)
    db = open_database(database_url)
    settings = get_settings()
    clock = FakeClock(START)
    store = SubscriberStore(db, clock=clock)
    subs = Subscriptions(
        store=store, transport=OutboxTransport(tmp_path / "outbox"),
        mailer=ConfirmationMailer(wiring.renderer(settings), wiring.sender(settings)),
        secret=TEST_SECRET, base_url=settings.base_url, clock=clock,
        actions=ReaderActions(db, clock),
    )
    yield World(db, subs, store)
    db.close()


def test_a_failed_attribution_undoes_the_unsubscribe(world: World) -> None:
    reader = world.store.add("reader@example.org", status="active")
    token = make_token(TEST_SECRET, Purpose.UNSUBSCRIBE, reader.id, now=START.timestamp())
    world.break_attribution(True)
    with pytest.raises(Exception, match="reader_actions"):
        world.subs.unsubscribe(token, "one-click")
    world.break_attribution(False)
    assert world.store.get(reader.id).status == "active"  # type: ignore[union-attr]
    assert not world.store.is_suppressed("reader@example.org")
    assert world.actions() == 0
    # Pressed again, with nothing failing: both are kept.
    left = world.subs.unsubscribe(token, "one-click")
    assert left is not None and left.status == "unsubscribed"
    assert world.actions() == 1


def test_a_failed_attribution_undoes_the_preference_change(world: World) -> None:
    reader = world.store.add("reader@example.org", status="active")
    token = make_token(TEST_SECRET, Purpose.PREFERENCES, reader.id, now=START.timestamp())
    before = world.store.get(reader.id)
    assert before is not None
    world.break_attribution(True)
    with pytest.raises(Exception, match="reader_actions"):
        world.subs.update_preferences(token, Choices(frozenset({"CV"}), "zh"))
    world.break_attribution(False)
    after = world.store.get(reader.id)
    assert after is not None
    assert (after.categories, after.language) == (before.categories, before.language)
    assert world.actions() == 0
    world.subs.update_preferences(token, Choices(frozenset({"CV"}), "zh"))
    assert world.actions() == 1
    world.subs.update_preferences(token, Choices(frozenset({"CV"}), "zh"))  # the same again
    assert world.actions() == 1
