"""The desk's readers pages: search, a reader's page and its actions, CSV export and import,
suppressions."""

from __future__ import annotations

import datetime as dt
import io
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import insert, select
from support.desk import EDITOR, DeskSite, desk_site

from newsletter.model.addresses import email_hash
from newsletter.model.subscribers import NewSubscriber
from newsletter.settings import get_settings
from newsletter.store.db import Database
from newsletter.store.desk import DeskStore
from newsletter.store.subscribers import SubscriberStore
from newsletter.store.tables import campaigns, deliveries, ses_events
from newsletter.subscribers.csv_io import export_subscribers

OTHER_EDITOR = "other@example.org"
WHEN = dt.datetime(2022, 9, 6, 6, 0, tzinfo=dt.UTC)


@pytest.fixture
def desk(db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[DeskSite]:
    # Uploads wait in the system's temporary folder: here, the test's own.
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with desk_site(get_settings(), db, tmp_path / "outbox",
                   editors=(EDITOR, OTHER_EDITOR)) as site:
        yield site


def _waiting(tmp_path: Path) -> list[str]:
    """The files of uploads waiting on the server."""
    [folder] = tmp_path.glob("newsletter-desk-imports-*")
    assert folder.stat().st_mode & 0o777 == 0o700
    return sorted(path.name for path in folder.iterdir())


@pytest.fixture
def store(db: Database) -> SubscriberStore:
    return SubscriberStore(db)


def _add(store: SubscriberStore, *emails: str, categories: frozenset[str] = frozenset()) -> None:
    store.add_many([NewSubscriber(email, categories) for email in emails])


def _audit(db: Database) -> list[tuple[str, str, str, str]]:
    return [(e.actor, e.action, e.target, e.detail) for e in DeskStore(db).audit_entries(100)]


def _links(html: str) -> list[str]:
    return re.findall(r'href="/admin/subscribers/(\d+)"', html)


def test_the_search_finds_readers_by_address_and_filters(
    desk: DeskSite, store: SubscriberStore,
) -> None:
    """``Search`` matches the beginning of the address (any case) or, with "contains", any
    part; status and category narrow it; each reader links to their page."""
    desk.sign_in()
    _add(store, "ada@example.org", "adam@example.org", "bob@ada.org")
    _add(store, "lg@example.org", categories=frozenset({"LG"}))
    store.add("new@example.org")
    ada = store.find("ada@example.org")
    assert ada is not None
    page = desk.client.get("/admin/subscribers", params={"q": "ADA"})
    assert page.status_code == 200
    assert "ada@example.org" in page.text and "adam@example.org" in page.text
    assert "bob@ada.org" not in page.text
    assert f'href="/admin/subscribers/{ada.id}"' in page.text
    assert 'id="q"' in page.text and '<label for="q">Search</label>' in page.text
    anywhere = desk.client.get("/admin/subscribers", params={"q": "ada", "match": "contains"})
    assert "bob@ada.org" in anywhere.text
    pending = desk.client.get("/admin/subscribers", params={"status": "pending"})
    assert len(_links(pending.text)) == 1 and "new@example.org" in pending.text
    chosen = desk.client.get("/admin/subscribers", params={"category": "LG"})
    assert len(_links(chosen.text)) == 1 and "lg@example.org" in chosen.text
    odd = desk.client.get("/admin/subscribers", params={"status": "nonsense", "after": "x'"})
    assert odd.status_code == 200 and len(_links(odd.text)) == 5


def test_results_come_fifty_a_page_with_next_and_previous(
    desk: DeskSite, store: SubscriberStore,
) -> None:
    """120 readers: 50 on the first page with a next link and no previous; the links keep
    the filters and lead through every reader once."""
    desk.sign_in()
    _add(store, *(f"r{n:03d}@example.org" for n in range(120)))
    seen: list[str] = []
    url = "/admin/subscribers?status=active"
    pages = 0
    while url:
        page = desk.client.get(url)
        found = _links(page.text)
        assert len(found) == (50 if pages < 2 else 20)
        seen += found
        pages += 1
        if pages == 1:
            assert 'rel="prev"' not in page.text
        following = re.search(r'href="(/admin/subscribers\?[^"]+)" rel="next"', page.text)
        url = following.group(1).replace("&amp;", "&") if following else ""
        assert not url or "status=active" in url
    assert pages == 3 and len(set(seen)) == 120
    previous = re.search(r'href="(/admin/subscribers\?[^"]+)" rel="prev"', page.text)
    assert previous is not None
    back = desk.client.get(previous.group(1).replace("&amp;", "&"))
    assert _links(back.text) == seen[50:100]


def test_a_readers_page_shows_history_deliveries_and_ses_events(
    desk: DeskSite, store: SubscriberStore, db: Database,
) -> None:
    """The reader's page: address, status, categories, history, each delivery with its
    error, and what SES said about it; an unknown id is 404."""
    desk.sign_in()
    reader = store.add("h@example.org", categories={"LG"}, language="zh")
    store.set_status(reader.id, "active", "confirmed by link")
    with db.engine.begin() as conn:
        conn.execute(insert(campaigns).values(id=7, issue_date="2022-09-05", issue_path="x",
                                              status="done", total=1, created_at=WHEN))
        conn.execute(insert(deliveries).values(
            id=70, campaign_id=7, subscriber_id=reader.id, variant="zh:LG",
            status="failed", attempts=2, error="554 message rejected"))
        conn.execute(insert(ses_events).values(
            event_key="k", kind="bounce", delivery_id=70, campaign_id=7, email=reader.email,
            bounce_type="Permanent", detail="smtp; 550 5.1.1 user unknown", received_at=WHEN,
            payload="{}"))
    page = desk.client.get(f"/admin/subscribers/{reader.id}")
    assert page.status_code == 200
    for text in ("h@example.org", "active", "LG", "confirmed by link", "2022-09-05",
                 "554 message rejected", "550 5.1.1 user unknown", "Permanent",
                 'href="/admin/campaigns/7"'):
        assert text in page.text, text
    assert page.text.count("<h1") == 1
    assert desk.client.get("/admin/subscribers/999999").status_code == 404


@pytest.mark.slow
def test_unsubscribe_is_a_confirmed_post_audited_with_a_message(
    desk: DeskSite, store: SubscriberStore, db: Database,
) -> None:
    """A GET of the action changes nothing; the confirmed POST unsubscribes (suppressing
    the address), writes the audit log and comes back with a message."""
    token = desk.sign_in()
    _add(store, "u@example.org")
    reader = store.find("u@example.org")
    assert reader is not None
    page = desk.client.get(f"/admin/subscribers/{reader.id}")
    assert 'data-confirm="Unsubscribe u@example.org?' in page.text
    assert desk.client.get(f"/admin/subscribers/{reader.id}/unsubscribe").status_code == 405
    assert desk.client.post(f"/admin/subscribers/{reader.id}/unsubscribe").status_code == 403
    assert store.get(reader.id).status == "active"  # type: ignore[union-attr]
    done = desk.client.post(f"/admin/subscribers/{reader.id}/unsubscribe", data={"csrf": token})
    assert done.status_code == 303
    assert done.headers["location"] == f"/admin/subscribers/{reader.id}?done=unsubscribed"
    assert store.get(reader.id).status == "unsubscribed"  # type: ignore[union-attr]
    assert store.is_suppressed("u@example.org")
    assert (EDITOR, "unsubscribe", f"subscriber #{reader.id}", "was active") in _audit(db)
    shown = desk.client.get(done.headers["location"])
    assert "Unsubscribed: no more issues go to this reader." in shown.text
    assert f"unsubscribed on the desk by {EDITOR}" in shown.text
    again = desk.client.post(f"/admin/subscribers/{reader.id}/unsubscribe", data={"csrf": token})
    assert again.headers["location"].endswith("?error=not-subscribed")


def test_suppress_takes_a_reason_from_the_list(
    desk: DeskSite, store: SubscriberStore, db: Database,
) -> None:
    """Suppress with a listed reason suppresses the address (a status reason becomes the
    reader's status); any other reason changes nothing."""
    token = desk.sign_in()
    _add(store, "s@example.org")
    reader = store.find("s@example.org")
    assert reader is not None
    path = f"/admin/subscribers/{reader.id}/suppress"
    refused = desk.client.post(path, data={"csrf": token, "reason": "because"})
    assert refused.headers["location"].endswith("?error=reason")
    assert not store.is_suppressed("s@example.org")
    done = desk.client.post(path, data={"csrf": token, "reason": "bounced"})
    assert done.headers["location"].endswith("?done=suppressed")
    suppression = store.suppression("s@example.org")
    assert suppression is not None and suppression.reason == "bounced"
    assert store.get(reader.id).status == "bounced"  # type: ignore[union-attr]
    assert (EDITOR, "suppress", f"subscriber #{reader.id}", "bounced") in _audit(db)


def test_erase_needs_its_box_and_keeps_only_the_hash(
    desk: DeskSite, store: SubscriberStore, db: Database,
) -> None:
    """Erasing without the box ticked changes nothing; with it the reader is gone as
    ``subscribers remove`` leaves them (hash suppressed), and the audit log keeps no address."""
    token = desk.sign_in()
    _add(store, "e@example.org")
    reader = store.find("e@example.org")
    assert reader is not None
    path = f"/admin/subscribers/{reader.id}/erase"
    unsure = desk.client.post(path, data={"csrf": token})
    assert unsure.headers["location"].endswith("?error=not-sure")
    assert store.get(reader.id) is not None
    done = desk.client.post(path, data={"csrf": token, "sure": "yes"})
    assert done.headers["location"] == "/admin/subscribers?done=erased"
    assert store.get(reader.id) is None
    suppression = store.suppression("e@example.org")
    assert suppression is not None and suppression.email is None
    assert suppression.email_hash == email_hash("e@example.org")
    entries = _audit(db)
    assert (EDITOR, "erase", f"subscriber #{reader.id}", "address kept only as a hash") in entries
    assert not any("e@example.org" in " ".join(entry) for entry in entries)
    gone = desk.client.post(path, data={"csrf": token, "sure": "yes"})
    assert gone.headers["location"] == "/admin/subscribers?error=gone"


@pytest.mark.slow
def test_export_is_the_command_line_export(desk: DeskSite, store: SubscriberStore) -> None:
    """``Export CSV`` downloads exactly what ``newsletter subscribers export`` writes (in
    pieces, past the first 2,000 rows), and ``?status=`` narrows it as ``--status`` does."""
    desk.sign_in()
    _add(store, *(f"x{n}@example.org" for n in range(2001)), "=cmd@example.org")
    store.add("pending@example.org")
    answer = desk.client.get("/admin/subscribers.csv")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    assert "attachment" in answer.headers["content-disposition"]
    expected = io.StringIO(newline="")
    export_subscribers(store, expected)
    assert answer.text == expected.getvalue()
    assert "'=cmd@example.org" in answer.text
    pending = io.StringIO(newline="")
    export_subscribers(store, pending, "pending")
    assert desk.client.get("/admin/subscribers.csv?status=pending").text == pending.getvalue()


CSV = (b"email,categories,language\r\n"
       b"new@example.org,LG,zh\r\n"
       b"old@example.org,,\r\n"
       b"blocked@example.org,,\r\n"
       b"not an address,,\r\n"
       b"odd@example.org,ZZ,\r\n")


def _upload(desk: DeskSite, token: str, data: bytes = CSV) -> str:
    """Upload ``data``; the path of the check page it leads to."""
    sent = desk.client.post("/admin/subscribers/import", data={"csrf": token},
                            files={"file": ("list.csv", data, "text/csv")})
    assert sent.status_code == 303, sent.text
    location = sent.headers["location"]
    assert re.fullmatch(r"/admin/subscribers/import/[A-Za-z0-9_-]{32}", location)
    return str(location)


def test_an_import_is_checked_row_by_row_before_apply_imports_it(
    desk: DeskSite, store: SubscriberStore, db: Database, tmp_path: Path,
) -> None:
    """Uploading shows what each row would do (added, present, suppressed, bad by line and
    why) and stores nothing; ``Apply`` imports as the command does, once."""
    token = desk.sign_in()
    _add(store, "old@example.org")
    store.suppress("blocked@example.org", "manual")
    before = store.count()
    check_path = _upload(desk, token)
    upload_id = check_path.rsplit("/", 1)[1]
    assert _waiting(tmp_path) == [f"{upload_id}.csv", f"{upload_id}.json"]
    check = desk.client.get(check_path)
    assert check.status_code == 200
    assert store.count() == before and store.find("new@example.org") is None
    for text in ("new@example.org", "added", "already present", "skipped: suppressed",
                 "<td>5</td>", "not a valid email address", "<td>6</td>", "unknown category ZZ",
                 'data-confirm="Import list.csv now?"'):
        assert text in check.text, text
    applied = desk.client.post(check_path, data={"csrf": token})
    assert applied.status_code == 303
    assert applied.headers["location"] == (
        "/admin/subscribers/import?imported=1&present=1&suppressed=1&bad=2")
    new = store.find("new@example.org")
    assert new is not None and new.status == "active" and new.categories == {"LG"}
    assert [e.reason for e in store.events(new.id)] == ["import from list.csv"]
    assert (EDITOR, "import readers", "list.csv",
            "imported 1, already present 1, suppressed 1, bad 2") in _audit(db)
    result = desk.client.get(applied.headers["location"])
    assert "Imported" in result.text
    assert _waiting(tmp_path) == []
    twice = desk.client.post(check_path, data={"csrf": token})
    assert twice.headers["location"] == "/admin/subscribers/import?error=expired"
    assert store.count() == before + 1


def test_an_upload_is_only_its_editors_and_can_be_discarded(
    desk: DeskSite, store: SubscriberStore,
) -> None:
    """Another editor cannot see or apply an upload; Discard deletes it; a file without an
    email column is refused with the reason and no Apply button."""
    token = desk.sign_in()
    check_path = _upload(desk, token)
    other = desk.sign_in(OTHER_EDITOR)
    assert desk.client.get(check_path).headers["location"].endswith("?error=expired")
    assert desk.client.post(check_path, data={"csrf": other}).headers["location"].endswith(
        "?error=expired")
    assert store.find("new@example.org") is None
    token = desk.sign_in()
    discarded = desk.client.post(check_path + "/discard", data={"csrf": token})
    assert discarded.headers["location"] == "/admin/subscribers/import?done=discarded"
    assert desk.client.get(check_path).headers["location"].endswith("?error=expired")
    headless = desk.client.get(_upload(desk, token, b"name,language\r\nada,zh\r\n"))
    assert "cannot be imported" in headless.text and "email" in headless.text
    assert ">Apply<" not in headless.text
    empty = desk.client.post("/admin/subscribers/import", data={"csrf": token},
                             files={"file": ("", b"", "text/csv")})
    assert empty.headers["location"] == "/admin/subscribers/import?error=no-file"


def test_suppressions_are_listed_added_and_removed(
    desk: DeskSite, store: SubscriberStore, db: Database,
) -> None:
    """The list is newest first, 50 a page; adding needs a valid address and a listed reason;
    removing is a confirmed POST; an erased address is shown without its address and cannot
    be removed; each change is audited."""
    token = desk.sign_in()
    for n in range(50):
        store.suppress(f"s{n:02d}@example.org", "manual")
    store.remove("erased@example.org")
    page = desk.client.get("/admin/suppressions")
    assert page.status_code == 200
    assert page.text.index("erased") < page.text.index("s49@example.org")
    assert "s00@example.org" not in page.text and 'rel="next"' in page.text
    older = re.search(r'href="(/admin/suppressions\?older=\d+)"', page.text)
    assert older is not None and "s00@example.org" in desk.client.get(older.group(1)).text
    bad = desk.client.post("/admin/suppressions", data={"csrf": token, "email": "nope",
                                                        "reason": "manual"})
    assert bad.headers["location"] == "/admin/suppressions?error=address"
    wrong = desk.client.post("/admin/suppressions", data={
        "csrf": token, "email": "x@example.org", "reason": "erased"})
    assert wrong.headers["location"] == "/admin/suppressions?error=reason"
    assert not store.is_suppressed("x@example.org")
    added = desk.client.post("/admin/suppressions", data={
        "csrf": token, "email": "New@Example.org", "reason": "complained"})
    assert added.headers["location"] == "/admin/suppressions?done=added"
    assert store.suppression("new@example.org").reason == "complained"  # type: ignore[union-attr]
    listed = desk.client.get("/admin/suppressions")
    assert 'data-confirm="Remove the suppression of new@example.org?' in listed.text
    removed = desk.client.post("/admin/suppressions/remove", data={
        "csrf": token, "email": "new@example.org"})
    assert removed.headers["location"] == "/admin/suppressions?done=removed"
    assert not store.is_suppressed("new@example.org")
    entries = _audit(db)
    assert (EDITOR, "suppress", "new@example.org", "complained") in entries
    assert (EDITOR, "remove suppression", "new@example.org", "") in entries
    with db.engine.connect() as conn:
        from newsletter.store.tables import suppressions
        erased = conn.execute(select(suppressions.c.email).where(
            suppressions.c.email_hash == email_hash("erased@example.org"))).scalar_one()
    assert erased is None
    assert desk.client.post("/admin/suppressions/remove", data={
        "csrf": token, "email": "nobody@example.org"}).headers["location"].endswith(
        "?done=not-suppressed")
