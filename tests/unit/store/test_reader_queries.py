"""The desk's reader queries (search, history, deliveries, suppressions) and the import's dry
run, on SQLite and on a real PostgreSQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import insert
from support.clock import FakeClock

from newsletter.model.subscribers import NewSubscriber
from newsletter.store.db import Database, make_engine, upgrade
from newsletter.store.readers import EVERY_CATEGORY, ReaderFilter, ReaderPage, ReaderQueries
from newsletter.store.subscribers import SubscriberStore
from newsletter.store.tables import campaigns, deliveries, ses_events
from newsletter.subscribers.csv_io import BATCH_SIZE, import_csv, preview_csv
from newsletter.vocabulary import Language

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


@pytest.fixture
def queries(db: Database) -> ReaderQueries:
    return ReaderQueries(db)


def _add(store: SubscriberStore, *emails: str, categories: frozenset[str] = frozenset(),
         language: Language = "both") -> None:
    store.add_many([NewSubscriber(e, categories, language) for e in emails])


def _emails(page: ReaderPage) -> list[str]:
    return [reader.email for reader in page.readers]


def test_an_address_prefix_finds_readers_in_address_order(
    store: SubscriberStore, queries: ReaderQueries,
) -> None:
    """A prefix, in any case, finds exactly the addresses that begin with it, by address;
    % and _ in it are plain characters."""
    _add(store, "adam@example.org", "ada@example.org", "bob@example.org", "a_b@example.org",
         "axb@example.org", "a%c@example.org", "zed@ada.org")
    assert _emails(queries.search(ReaderFilter("ADA"))) == ["ada@example.org", "adam@example.org"]
    assert _emails(queries.search(ReaderFilter("ada@"))) == ["ada@example.org"]
    assert _emails(queries.search(ReaderFilter("a_"))) == ["a_b@example.org"]
    assert _emails(queries.search(ReaderFilter("a%"))) == ["a%c@example.org"]
    assert _emails(queries.search(ReaderFilter("ada@example.org"))) == ["ada@example.org"]
    assert _emails(queries.search(ReaderFilter("nobody"))) == []


def test_a_substring_finds_an_address_by_any_part(
    store: SubscriberStore, queries: ReaderQueries,
) -> None:
    """``contains`` matches anywhere in the address, case-insensitively, wildcards literal."""
    _add(store, "ada@example.org", "zed@ada.org", "bob@example.net", "a_b@x.org", "axb@x.org")
    found = queries.search(ReaderFilter("ADA", contains=True))
    assert _emails(found) == ["ada@example.org", "zed@ada.org"]
    assert _emails(queries.search(ReaderFilter(".net", contains=True))) == ["bob@example.net"]
    assert _emails(queries.search(ReaderFilter("_b", contains=True))) == ["a_b@x.org"]


def test_the_prefix_search_gives_the_same_answer_without_a_bytewise_collation(
    store: SubscriberStore, queries: ReaderQueries,
) -> None:
    """The test databases compare bytewise, so a prefix is a range; the LIKE used for other
    collations finds the same readers."""
    _add(store, "adam@example.org", "ada@example.org", "a_b@example.org", "axb@example.org")
    assert queries._compares_bytewise() is True
    ranged = [_emails(queries.search(ReaderFilter(q))) for q in ("ada", "a_", "a")]
    queries._bytewise = False
    assert [_emails(queries.search(ReaderFilter(q))) for q in ("ada", "a_", "a")] == ranged


def test_filters_by_status_language_and_category(
    store: SubscriberStore, queries: ReaderQueries,
) -> None:
    """Status, language and category narrow the list; "every category" is readers who chose
    none; a category matches readers who chose it, not a code that merely contains it."""
    _add(store, "all@x.org")
    _add(store, "lg@x.org", categories=frozenset({"LG"}), language="zh")
    _add(store, "cvlg@x.org", categories=frozenset({"CV", "LG"}), language="en")
    _add(store, "lgx@x.org", categories=frozenset({"LGX"}), language="en")
    store.add("new@x.org")  # pending
    assert _emails(queries.search(ReaderFilter(status="pending"))) == ["new@x.org"]
    assert set(_emails(queries.search(ReaderFilter(category="LG")))) == {"lg@x.org", "cvlg@x.org"}
    assert set(_emails(queries.search(ReaderFilter(category=EVERY_CATEGORY)))) == {
        "all@x.org", "new@x.org"}
    assert _emails(queries.search(ReaderFilter(category="LG", language="en"))) == ["cvlg@x.org"]
    assert _emails(queries.search(ReaderFilter("c", category="LG", status="active"))) == [
        "cvlg@x.org"]
    assert _emails(queries.search(ReaderFilter(category="lg; drop"))) == []


def test_pages_go_forward_and_back_newest_first(
    store: SubscriberStore, queries: ReaderQueries,
) -> None:
    """Without an address, 120 readers come newest first in pages of 50 (51 rows read:
    no count); the next and previous cursors walk them both ways."""
    _add(store, *(f"r{n:03d}@x.org" for n in range(120)))
    newest_first = [f"r{n:03d}@x.org" for n in reversed(range(120))]
    first = queries.search(ReaderFilter())
    assert _emails(first) == newest_first[:50] and first.prev_before is None
    second = queries.search(ReaderFilter(), after=first.next_after)
    third = queries.search(ReaderFilter(), after=second.next_after)
    assert _emails(second) == newest_first[50:100]
    assert _emails(third) == newest_first[100:] and third.next_after is None
    back = queries.search(ReaderFilter(), before=third.prev_before)
    assert _emails(back) == newest_first[50:100]
    assert back.next_after is not None and back.prev_before is not None
    home = queries.search(ReaderFilter(), before=back.prev_before)
    assert _emails(home) == newest_first[:50] and home.prev_before is None


def test_address_pages_go_forward_and_back_in_address_order(
    store: SubscriberStore, queries: ReaderQueries,
) -> None:
    """A search's pages follow the addresses; a cursor that is not a number is ignored for
    the id order."""
    _add(store, *(f"r{n}@x.org" for n in range(7)), "s@x.org")
    query = ReaderFilter("r")
    first = queries.search(query, size=3)
    assert _emails(first) == ["r0@x.org", "r1@x.org", "r2@x.org"]
    second = queries.search(query, after=first.next_after, size=3)
    last = queries.search(query, after=second.next_after, size=3)
    assert _emails(last) == ["r6@x.org"] and last.next_after is None
    assert _emails(queries.search(query, before=last.prev_before, size=3)) == _emails(second)
    assert len(queries.search(ReaderFilter(), after="r1@x.org").readers) == 8


def test_history_is_newest_first(store: SubscriberStore, queries: ReaderQueries,
                                 clock: FakeClock) -> None:
    """A reader's history: sign-up, confirmation, preferences, unsubscribe, newest first."""
    reader = store.add("h@x.org")
    clock.advance(minutes=1)
    store.set_status(reader.id, "active", "confirmed by link")
    store.set_preferences(reader.id, categories={"LG"}, language="en")
    store.set_status(reader.id, "unsubscribed", "one-click")
    kinds = [(e.kind, e.new_status) for e in queries.history(reader.id)]
    assert kinds == [("status", "unsubscribed"), ("preferences", "active"),
                     ("status", "active"), ("created", "pending")]
    assert len(queries.history(reader.id, limit=2)) == 2


def test_deliveries_newest_first_with_their_ses_events(
    store: SubscriberStore, queries: ReaderQueries, db: Database,
) -> None:
    """A reader's deliveries come newest campaign first, a page at a time, with the SES
    events about them; other readers' deliveries stay out."""
    _add(store, "d@x.org", "other@x.org")
    me, other = (store.find("d@x.org"), store.find("other@x.org"))
    assert me is not None and other is not None
    with db.engine.begin() as conn:
        for day in (1, 2, 3):
            conn.execute(insert(campaigns).values(
                id=day, issue_date=f"2026-01-0{day}", issue_path="x", status="done", total=2,
                created_at=START))
            for sub, status in ((me, "sent" if day != 2 else "failed"), (other, "sent")):
                conn.execute(insert(deliveries).values(
                    id=day * 10 + (sub.id == other.id), campaign_id=day, subscriber_id=sub.id,
                    variant="both:*", status=status, attempts=1,
                    sent_at=START if status == "sent" else None,
                    error="550 no such user" if status == "failed" else None))
        conn.execute(insert(ses_events).values(
            event_key="k1", kind="bounce", delivery_id=30, campaign_id=3, email="d@x.org",
            bounce_type="Permanent", detail="550", received_at=START, payload="{}"))
        conn.execute(insert(ses_events).values(
            event_key="k2", kind="delivery", delivery_id=31, campaign_id=3,
            email="other@x.org", received_at=START, payload="{}"))
    shown, older = queries.deliveries(me.id, size=2)
    assert [(d.issue_date, d.status) for d in shown] == [("2026-01-03", "sent"),
                                                          ("2026-01-02", "failed")]
    assert shown[1].error == "550 no such user" and older == 2
    rest, none = queries.deliveries(me.id, before_campaign=older, size=2)
    assert [d.id for d in rest] == [10] and none is None
    events = queries.ses_events([d.id for d in shown])
    assert [(e.delivery_id, e.kind, e.bounce_type) for e in events] == [(30, "bounce",
                                                                         "Permanent")]
    assert queries.ses_events([]) == []


def test_listed_and_suppressed_addresses_in_bulk(
    store: SubscriberStore, queries: ReaderQueries,
) -> None:
    """The bulk lookups find listed addresses, and suppressed ones by hash (erased too)."""
    _add(store, "a@x.org", "b@x.org")
    store.suppress("b@x.org", "bounced")
    store.remove("gone@x.org")
    asked = {"a@x.org", "b@x.org", "gone@x.org", "new@x.org"}
    assert queries.listed(asked) == {"a@x.org", "b@x.org"}
    assert queries.suppressed(asked) == {"b@x.org", "gone@x.org"}


def test_suppressions_page_newest_first_both_ways(
    store: SubscriberStore, queries: ReaderQueries, clock: FakeClock,
) -> None:
    """Suppressions come newest first, a page at a time, older and newer; an erased one has
    no address."""
    for n in range(5):
        clock.advance(minutes=1)
        store.suppress(f"s{n}@x.org", "manual", "test")
    store.remove("s4@x.org")
    first = queries.suppression_page(size=2)
    assert [s.email for s in first.items] == [None, "s3@x.org"] and first.newer is None
    second = queries.suppression_page(older_than=first.older, size=2)
    third = queries.suppression_page(older_than=second.older, size=2)
    assert [s.email for s in third.items] == ["s0@x.org"] and third.older is None
    back = queries.suppression_page(newer_than=third.newer, size=2)
    assert [s.email for s in back.items] == ["s2@x.org", "s1@x.org"]
    assert queries.suppression_page(newer_than=back.newer, size=2).newer is None


@pytest.mark.slow
def test_the_dry_run_predicts_the_import_exactly(
    store: SubscriberStore, queries: ReaderQueries,
) -> None:
    """``preview_csv`` through ReaderQueries reports what ``import_csv`` then does (present,
    suppressed, erased, repeated, status rows, bad rows, across a batch boundary), and
    stores nothing."""
    _add(store, "old@x.org")
    store.suppress("blocked@x.org", "manual")
    store.remove("erased@x.org")
    lines = ["email,categories,language,status\n", "new@x.org,LG,zh,\n", "old@x.org,,,\n",
             "blocked@x.org,,,\n", "erased@x.org,,,\n", "new@x.org,,,\n",
             "not an address,,,\n", "late@x.org,,,\n", "late@x.org,,,bounced\n",
             "x@x.org,ZZ,,\n"]
    lines += [f"bulk{n}@x.org,,,\n" for n in range(BATCH_SIZE)] + ["new@x.org,,,\n"]
    known = {"LG", "CV"}
    before = store.count()
    preview = preview_csv(queries, lines, known=known, keep=8)
    assert store.count() == before and store.find("new@x.org") is None
    assert [(r.line, r.email, r.outcome) for r in preview.rows] == [
        (2, "new@x.org", "add"), (3, "old@x.org", "present"),
        (4, "blocked@x.org", "suppressed"), (5, "erased@x.org", "suppressed"),
        (6, "new@x.org", "present"), (8, "late@x.org", "suppressed"),
        (9, "late@x.org", "suppress"), (11, "bulk0@x.org", "add")]
    assert [bad.line for bad in preview.report.bad] == [7, 10]
    done = import_csv(store, lines, known=known)
    assert preview.report == done
    assert (done.imported, done.already_present, done.suppressed) == (BATCH_SIZE + 1, 3, 4)
