"""The subscriber store, on SQLite and on a real PostgreSQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import String, Text, insert, select
from support.clock import FakeClock

from newsletter.errors import (
    InvalidAddressError,
    InvalidPreferencesError,
    SubscriberExistsError,
    SuppressedAddressError,
    UnknownSubscriberError,
)
from newsletter.model.addresses import email_hash
from newsletter.model.subscribers import NewSubscriber
from newsletter.store.db import Database, make_engine, upgrade
from newsletter.store.subscribers import SubscriberStore
from newsletter.store.tables import campaigns, deliveries, metadata, suppressions
from newsletter.store.tables_papers import UNDECLARED_TABLES

START = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    upgrade(database_url)
    db = Database(make_engine(database_url))
    yield db
    db.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def store(db: Database, clock: FakeClock) -> SubscriberStore:
    return SubscriberStore(db, clock)


def _every_text_cell(db: Database) -> list[str]:
    """Every string stored in any column of any table."""
    cells: list[str] = []
    with db.engine.connect() as conn:
        for table in metadata.sorted_tables:
            columns = [c for c in table.columns if isinstance(c.type, String | Text)]
            if not columns:  # no text can hold an address (e.g. per-delivery counters)
                continue
            for row in conn.execute(select(*columns)):
                cells.extend(str(value) for value in row if value is not None)
    return cells


def test_migrations_create_exactly_the_declared_tables(db: Database) -> None:
    """The migrations and tables.py describe the same schema (no autogenerate diff)."""
    def on_this_backend(obj: object, name: str, type_: str, reflected: bool, *_: object) -> bool:
        # An index declared for one backend only (``ddl_if``) is expected there alone.
        only = getattr(getattr(obj, "_ddl_if", None), "dialect", None)
        # Tables SQLAlchemy cannot declare (SQLite's FTS5 tables) are listed in tables.py.
        if type_ == "table" and reflected and name in UNDECLARED_TABLES[db.dialect]:
            return False
        return only is None or only == db.dialect

    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_object": on_this_backend})
        assert compare_metadata(context, metadata) == []


def test_add_normalises_and_records_an_event(store: SubscriberStore) -> None:
    """A new subscriber is stored normalised (IDN as punycode) with a 'created' event."""
    added = store.add("Reader@Bücher.DE", categories={"CV", "LG"}, language="zh", source="web")
    assert added.email == "reader@xn--bcher-kva.de"
    assert (added.status, added.language, added.source) == ("pending", "zh", "web")
    assert added.categories == frozenset({"CV", "LG"})
    assert added.created_at == START and added.confirmed_at is None
    assert store.get(added.id) == added
    assert store.find("READER@xn--bcher-kva.de") == added
    [event] = store.events(added.id)
    assert (event.kind, event.old_status, event.new_status) == ("created", None, "pending")
    assert event.created_at == START


def test_add_refuses_a_second_spelling_of_a_listed_address(store: SubscriberStore) -> None:
    """Adding an address that is already listed, in any case, raises SubscriberExistsError."""
    store.add("dup@example.org")
    with pytest.raises(SubscriberExistsError):
        store.add("DUP@Example.org")


def test_add_refuses_bad_input(store: SubscriberStore) -> None:
    """Malformed addresses, category codes and languages are refused before anything is stored."""
    with pytest.raises(InvalidAddressError):
        store.add("not-an-address")
    with pytest.raises(InvalidPreferencesError, match="category code"):
        store.add("a@example.org", categories={"lg"})
    with pytest.raises(InvalidPreferencesError, match="language"):
        store.add("a@example.org", language="fr")
    assert store.count() == 0


def test_find_unknown_or_malformed_address_is_none(store: SubscriberStore) -> None:
    """find() answers None for unknown and impossible addresses alike."""
    assert store.find("nobody@example.org") is None
    assert store.find("not an address") is None


def test_confirming_sets_active_and_confirmed_at(store: SubscriberStore, clock: FakeClock) -> None:
    """pending -> active stamps confirmed_at; setting the same status again records nothing."""
    sub = store.add("c@example.org")
    clock.advance(minutes=5)
    active = store.set_status(sub.id, "active", "confirmed by link")
    assert active.status == "active"
    assert active.confirmed_at == START + dt.timedelta(minutes=5)
    assert active.updated_at == active.confirmed_at
    store.set_status(sub.id, "active", "confirmed by link")
    kinds = [(e.kind, e.old_status, e.new_status, e.reason) for e in store.events(sub.id)]
    assert kinds == [
        ("created", None, "pending", "cli"),
        ("status", "pending", "active", "confirmed by link"),
    ]


def test_unsubscribe_suppresses_and_resubscribe_lifts_it(store: SubscriberStore) -> None:
    """Unsubscribing adds a suppression; confirming again (double opt-in) lifts it."""
    sub = store.add("u@example.org", status="active")
    store.set_status(sub.id, "unsubscribed", "one-click")
    suppression = store.suppression("u@example.org")
    assert suppression is not None
    assert (suppression.email, suppression.reason) == ("u@example.org", "unsubscribed")
    assert suppression.email_hash == email_hash("u@example.org")
    store.set_status(sub.id, "pending", "subscribed again on the web")
    assert store.is_suppressed("u@example.org")
    store.set_status(sub.id, "active", "confirmed by link")
    assert not store.is_suppressed("u@example.org")


def test_bounced_address_cannot_be_reactivated(store: SubscriberStore) -> None:
    """A bounce suppression blocks pending/active until an operator lifts it."""
    sub = store.add("b@example.org", status="active")
    store.set_status(sub.id, "bounced", "550 mailbox unavailable")
    for status in ("pending", "active"):
        with pytest.raises(SuppressedAddressError, match="bounced"):
            store.set_status(sub.id, status, "try")
    assert store.unsuppress("b@example.org") is True
    assert store.set_status(sub.id, "active", "operator").status == "active"


def test_set_preferences_records_an_event(store: SubscriberStore) -> None:
    """Preferences are replaced and the change is logged; bad codes are refused."""
    sub = store.add("p@example.org", categories={"LG"}, status="active")
    changed = store.set_preferences(sub.id, categories={"RO", "AS"}, language="en")
    assert (changed.categories, changed.language) == (frozenset({"AS", "RO"}), "en")
    assert store.events(sub.id)[-1].kind == "preferences"
    assert "AS,RO" in store.events(sub.id)[-1].reason
    with pytest.raises(InvalidPreferencesError):
        store.set_preferences(sub.id, categories={"R0"}, language="en")
    assert store.get(sub.id) == changed


def test_mark_confirmation_sent(store: SubscriberStore, clock: FakeClock) -> None:
    """The time of the last confirmation message is kept on the subscriber."""
    sub = store.add("m@example.org")
    store.mark_confirmation_sent(sub.id, clock.now + dt.timedelta(seconds=3))
    found = store.get(sub.id)
    assert found is not None
    assert found.confirmation_sent_at == START + dt.timedelta(seconds=3)


def test_unknown_subscriber_id_raises(store: SubscriberStore) -> None:
    """Changing a subscriber that does not exist raises UnknownSubscriberError."""
    with pytest.raises(UnknownSubscriberError):
        store.set_status(999, "active", "x")
    with pytest.raises(UnknownSubscriberError):
        store.set_preferences(999, categories=(), language="en")
    with pytest.raises(UnknownSubscriberError):
        store.mark_confirmation_sent(999, START)
    assert store.get(999) is None


def test_remove_erases_everything_but_the_hash(store: SubscriberStore, db: Database) -> None:
    """After erasure the address appears nowhere in the database; its hash still blocks it."""
    address = "gone@example.org"
    sub = store.add(address, status="active")
    keep = store.add("stays@example.org", status="active")
    store.set_status(sub.id, "bounced", f"550 5.1.1 <{address}>: user unknown")
    with db.engine.begin() as conn:
        campaign_id = conn.execute(
            insert(campaigns)
            .returning(campaigns.c.id)
            .values(issue_date="2026-01-05", issue_path="x", status="sending", created_at=START)
        ).scalar_one()
        conn.execute(
            insert(deliveries),
            [
                {
                    "campaign_id": campaign_id,
                    "subscriber_id": s.id,
                    "variant": "both:*",
                    "status": "queued",
                }
                for s in (sub, keep)
            ],
        )
    assert store.remove(address.upper()) is True
    assert not [cell for cell in _every_text_cell(db) if address in cell]
    assert "stays@example.org" in _every_text_cell(db)
    assert store.find(address) is None
    assert store.is_suppressed(address)
    with db.engine.connect() as conn:
        row = conn.execute(select(suppressions)).one()
        statuses = dict(conn.execute(select(deliveries.c.subscriber_id, deliveries.c.status)).all())
    assert (row.email, row.email_hash, row.reason) == (None, email_hash(address), "bounced")
    assert statuses[keep.id] == "queued"
    assert statuses[sub.id] == "failed"
    with pytest.raises(SuppressedAddressError):
        store.add(address)
    result = store.add_many([NewSubscriber(address)])
    assert (result.added, result.suppressed) == (0, 1)


def test_remove_unknown_address_still_blocks_it(store: SubscriberStore) -> None:
    """Erasing an address nobody subscribed keeps its hash (reason 'erased') and says so."""
    assert store.remove("stranger@example.org") is False
    suppression = store.suppression("stranger@example.org")
    assert suppression is not None
    assert (suppression.email, suppression.reason) == (None, "erased")


def test_erased_ids_are_never_reused(store: SubscriberStore) -> None:
    """A new subscriber never gets the id of an erased one (signed links name ids)."""
    first = store.add("first@example.org")
    last = store.add("last@example.org")
    store.remove("last@example.org")
    newcomer = store.add("newcomer@example.org")
    assert newcomer.id not in (first.id, last.id)
    assert store.events(last.id) == []


def test_suppress_with_a_status_reason_updates_the_subscriber(store: SubscriberStore) -> None:
    """suppress(email, 'complained') also moves a listed subscriber to complained, once."""
    sub = store.add("k@example.org", status="active")
    store.suppress("K@example.org", "complained", "feedback loop")
    store.suppress("k@example.org", "complained", "feedback loop")
    found = store.get(sub.id)
    assert found is not None and found.status == "complained"
    assert [e.new_status for e in store.events(sub.id)] == ["active", "complained"]
    store.suppress("manual@example.org", "manual")
    assert [s.email for s in store.suppressions()] == ["k@example.org", "manual@example.org"]
    assert store.unsuppress("manual@example.org") is True
    assert store.unsuppress("manual@example.org") is False


def test_list_streams_in_id_order_and_filters(store: SubscriberStore) -> None:
    """list() yields subscribers by id, optionally only one status."""
    made = [store.add(f"l{i}@example.org", status="active") for i in range(5)]
    store.set_status(made[2].id, "unsubscribed", "x")
    assert [s.id for s in store.list()] == [s.id for s in made]
    assert [s.email for s in store.list(status="active")] == [
        "l0@example.org",
        "l1@example.org",
        "l3@example.org",
        "l4@example.org",
    ]
    assert [s.id for s in store.list(status="unsubscribed")] == [made[2].id]
    assert store.count("active") == 4


def test_add_many_skips_present_duplicate_and_suppressed(store: SubscriberStore) -> None:
    """A batch adds new addresses as active and counts the ones it leaves alone."""
    store.add("old@example.org")
    store.suppress("blocked@example.org", "manual")
    rows = [
        NewSubscriber("new1@example.org", frozenset({"CV"}), "en"),
        NewSubscriber("old@example.org"),
        NewSubscriber("blocked@example.org"),
        NewSubscriber("new2@example.org"),
        NewSubscriber("new1@example.org"),
    ]
    result = store.add_many(rows, reason="import from a.csv")
    assert (result.added, result.already_present, result.suppressed) == (2, 2, 1)
    new1 = store.find("new1@example.org")
    assert new1 is not None
    assert (new1.status, new1.source, new1.language) == ("active", "import", "en")
    assert new1.categories == frozenset({"CV"})
    assert [e.reason for e in store.events(new1.id)] == ["import from a.csv"]
    old = store.find("old@example.org")
    assert old is not None and old.status == "pending"
    again = store.add_many(rows)
    assert (again.added, again.already_present, again.suppressed) == (0, 4, 1)
