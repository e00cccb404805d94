"""A locked database: sign-ups are kept or refused, never promised and lost; one-click
unsubscribe answers 503 within seconds so the mail provider retries."""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from sqlalchemy import select
from support.delivery import outbox
from support.env import TEST_SECRET, WebServer
from support.servers import serve

from newsletter.store.db import open_database
from newsletter.store.subscribers import SubscriberStore
from newsletter.store.tables import subscribers
from newsletter.tokens import Purpose, make_token


@contextmanager
def locked(database_url: str) -> Iterator[None]:
    """Hold SQLite's write lock, as a long transaction in another process would."""
    conn = sqlite3.connect(database_url.removeprefix("sqlite:///"), isolation_level=None)
    conn.execute("BEGIN EXCLUSIVE")
    try:
        yield
    finally:
        conn.execute("ROLLBACK")
        conn.close()


def post_sign_up(client: httpx.Client, address: str) -> httpx.Response:
    page = client.get("/subscribe")
    match = re.search(r'name="form_token" value="([0-9a-f]{32})"', page.text)
    assert match, page.text
    return client.post("/subscribe", data={
        "form_token": match.group(1), "email": address, "categories": ["LG"], "language": "en",
    })


def test_one_click_unsubscribe_answers_503_quickly_and_works_on_retry(
    web_server: WebServer,
) -> None:
    """With the database locked, one-click gets 503 + Retry-After in seconds; a retry works."""
    db = open_database(web_server.database_url)
    store = SubscriberStore(db)
    reader = store.add("reader@example.org", status="active")
    path = f"/unsubscribe/{make_token(TEST_SECRET, Purpose.UNSUBSCRIBE, reader.id)}"
    one_click = {"List-Unsubscribe": "One-Click"}
    try:
        with locked(web_server.database_url):
            started = time.monotonic()
            refused = httpx.post(f"{web_server.url}{path}", data=one_click, timeout=30)
            elapsed = time.monotonic() - started
        assert refused.status_code == 503
        assert int(refused.headers["Retry-After"]) > 0
        assert elapsed < 6, f"took {elapsed:.1f} s"
        still = store.get(reader.id)
        assert still is not None and still.status == "active"
        retried = httpx.post(f"{web_server.url}{path}", data=one_click, timeout=30)
        assert retried.status_code == 200
        after = store.get(reader.id)
        assert after is not None and after.status == "unsubscribed"
    finally:
        db.close()


def test_a_sign_up_promised_during_an_outage_is_stored_afterwards(web_server: WebServer) -> None:
    """A sign-up answered "check your inbox" is stored and mailed once the lock is gone;
    while the database is failing, further sign-ups get 503 instead of a promise."""
    with httpx.Client(base_url=web_server.url, timeout=30) as client:
        with locked(web_server.database_url):
            first = post_sign_up(client, "first@example.org")
            assert first.status_code == 200
            time.sleep(4)  # the sign-up thread has now met the locked database
            second = post_sign_up(client, "second@example.org")
            assert second.status_code == 503
            assert int(second.headers["Retry-After"]) > 0
        deadline = time.monotonic() + 30
        sent: list[str] = []
        while time.monotonic() < deadline and not sent:
            if web_server.outbox.exists():
                sent = [str(m["To"]) for m in outbox(web_server.outbox)]
            time.sleep(0.2)
    assert sent == ["first@example.org"]
    db = open_database(web_server.database_url)
    try:
        store = SubscriberStore(db)
        assert store.find("first@example.org") is not None
        assert store.find("second@example.org") is None
    finally:
        db.close()


def test_one_click_unsubscribe_with_a_locked_row_on_postgresql(
    migrated_postgres_url: str, tmp_path: Path
) -> None:
    """With the reader's row locked by another PostgreSQL transaction, one-click gets 503
    within seconds instead of waiting for the lock; after it is released a retry works."""
    db = open_database(migrated_postgres_url)
    try:
        store = SubscriberStore(db)
        reader = store.add("reader@example.org", status="active")
        path = f"/unsubscribe/{make_token(TEST_SECRET, Purpose.UNSUBSCRIBE, reader.id)}"
        one_click = {"List-Unsubscribe": "One-Click"}
        with serve(tmp_path, tmp_path / "serve.log",
                   NEWSLETTER_DATABASE_URL=migrated_postgres_url) as web:
            with db.engine.connect() as holder:
                holder.execute(
                    select(subscribers.c.id).where(subscribers.c.id == reader.id)
                    .with_for_update()
                )
                started = time.monotonic()
                refused = httpx.post(f"{web.url}{path}", data=one_click, timeout=60)
                elapsed = time.monotonic() - started
                holder.rollback()
            assert refused.status_code == 503, refused.text
            assert elapsed < 8, f"took {elapsed:.1f} s"
            retried = httpx.post(f"{web.url}{path}", data=one_click, timeout=30)
            assert retried.status_code == 200
        after = store.get(reader.id)
        assert after is not None and after.status == "unsubscribed"
    finally:
        db.close()
