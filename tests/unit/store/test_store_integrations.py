"""The stores of issue 22 on SQLite and PostgreSQL: API tokens, the welcome outbox, webhook
endpoints and messages (claims that one caller alone wins, leases that run out)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import select
from support.clock import FakeClock

from newsletter.errors import ApiError
from newsletter.store.api_tokens import ApiTokenStore
from newsletter.store.db import Database, make_engine, upgrade
from newsletter.store.subscribers import SubscriberStore
from newsletter.store.tables_api import api_tokens
from newsletter.store.webhooks import WebhookStore
from newsletter.store.welcome import WelcomeStore

START = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    upgrade(database_url)
    opened = Database(make_engine(database_url))
    yield opened
    opened.close()


def test_tokens_are_kept_hashed_checked_touched_and_revoked(db: Database) -> None:
    clock = FakeClock(START)
    tokens = ApiTokenStore(db, clock)
    token = tokens.create("crm", "write")
    with db.engine.connect() as conn:
        assert conn.execute(select(api_tokens.c.token_hash)).scalar_one() != token
    with pytest.raises(ApiError, match="exists already"):
        tokens.create("crm", "read")
    found = tokens.check(token)
    assert found is not None and (found.name, found.scope) == ("crm", "write")
    assert tokens.check(token + "x") is None
    clock.advance(seconds=30)
    tokens.check(token)
    assert tokens.all()[0].last_used_at == START  # written at most once a minute
    clock.advance(minutes=2)
    tokens.check(token)
    assert tokens.all()[0].last_used_at == clock.now
    assert tokens.revoke("crm") and not tokens.revoke("crm")
    assert tokens.check(token) is None
    assert tokens.all()[0].revoked_at == clock.now


def test_a_welcome_is_queued_once_and_claimed_by_one(db: Database) -> None:
    store = SubscriberStore(db)
    reader = store.add("a@example.org")
    store.set_status(reader.id, "active", "confirmed", welcome=True)
    store.set_status(reader.id, "unsubscribed", "left")
    store.set_status(reader.id, "active", "confirmed", welcome=True)
    welcomes = WelcomeStore(db)
    assert welcomes.queued() == [reader.id]
    assert welcomes.claim(reader.id) and not welcomes.claim(reader.id)
    welcomes.release(reader.id, "SES was down")
    assert welcomes.claim(reader.id)
    welcomes.finish(reader.id, "sent")
    assert welcomes.status(reader.id) == "sent" and welcomes.queued() == []


def test_messages_are_claimed_by_one_and_taken_over_after_the_lease(db: Database) -> None:
    clock = FakeClock(START)
    hooks = WebhookStore(db, clock)
    endpoint = hooks.add("https://hooks.example.org/in", {"subscriber.created"}, "whsec_eA==")
    SubscriberStore(db, clock).add("a@example.org")
    lease = dt.timedelta(seconds=25)
    [message] = hooks.claim(lease)
    assert message.event_type == "subscriber.created" and message.message_id.startswith("msg_")
    assert hooks.claim(lease) == []  # held
    clock.advance(seconds=26)
    [again] = hooks.claim(lease)  # the first holder died: taken over, same id
    assert again.message_id == message.message_id
    hooks.retry(again.row_id, clock.now + dt.timedelta(seconds=5), "HTTP 500")
    assert hooks.claim(lease) == []
    clock.advance(seconds=5)
    [third] = hooks.claim(lease)
    assert third.attempts == 1
    hooks.delivered(third.row_id)
    clock.advance(hours=1)
    assert hooks.claim(lease) == []
    [listed] = hooks.all()
    assert (listed.id, listed.pending, listed.failed) == (endpoint.id, 0, 0)
    assert hooks.messages(endpoint.id)[0][2:4] == ("delivered", 2)
    assert hooks.remove(endpoint.id) and hooks.all() == []
