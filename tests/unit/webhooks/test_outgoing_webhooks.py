"""Outgoing webhooks (issue 22): endpoints from the CLI, events written with the changes
they tell of, Standard Webhooks signatures (checked with the standardwebhooks library),
back-off, giving up after 24 hours with the endpoint disabled, and the address guard."""

from __future__ import annotations

import datetime as dt
import itertools
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select
from support.clock import FakeClock
from support.webhook_receiver import Receiver
from typer.testing import CliRunner

from newsletter.cli.main import app as cli_app
from newsletter.errors import SubscriberExistsError, WebhookEndpointError
from newsletter.model.subscribers import NewSubscriber
from newsletter.model.webhooks import EVENT_TYPES
from newsletter.settings import get_settings
from newsletter.store.campaigns import CampaignStore
from newsletter.store.db import Database, open_database
from newsletter.store.subscribers import SubscriberStore
from newsletter.store.tables_api import webhook_messages
from newsletter.store.webhooks import WebhookStore
from newsletter.webhooks.dispatch import GIVE_UP_AFTER, Webhooks
from newsletter.webhooks.endpoints import add_endpoint
from newsletter.webhooks.guard import allowed_addresses
from newsletter.webhooks.http import HttpPoster

START = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def db() -> Iterator[Database]:
    db = open_database(get_settings().database_url)
    yield db
    db.close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    yield found
    found.stop()


def add(url: str, events: str) -> Any:
    return CliRunner().invoke(cli_app, ["webhooks", "add", url, "--events", events])


def endpoint_for(receiver: Receiver, db: Database, events: tuple[str, ...] = EVENT_TYPES,
                 clock: FakeClock | None = None) -> int:
    store = WebhookStore(db, clock or FakeClock(START))
    endpoint = add_endpoint(store, receiver.url, events, allow_private=True)
    receiver.secret = endpoint.secret
    return endpoint.id


def sender(db: Database, clock: FakeClock | Any = None, first_retry: float = 5.0) -> Webhooks:
    clock = clock or (lambda: dt.datetime.now(dt.UTC))
    return Webhooks(WebhookStore(db, clock), HttpPoster(True, 2.0), clock,
                    first_retry=first_retry, timeout=2.0)


def test_add_prints_the_secret_alone_on_its_last_line_and_list_and_remove(
    monkeypatch: pytest.MonkeyPatch, receiver: Receiver,
) -> None:
    refused = add(receiver.url, "subscriber.created")
    assert refused.exit_code == 1
    assert "127.0.0.1, a loopback address" in refused.output
    assert "NEWSLETTER_WEBHOOKS_ALLOW_PRIVATE" in refused.output
    monkeypatch.setenv("NEWSLETTER_WEBHOOKS_ALLOW_PRIVATE", "true")
    added = add(receiver.url, "subscriber.created,campaign.finished")
    assert added.exit_code == 0, added.output
    secret = added.output.strip().splitlines()[-1]
    assert secret.startswith("whsec_") and " " not in secret
    listed = CliRunner().invoke(cli_app, ["webhooks", "list"])
    assert receiver.url in listed.output and "campaign.finished,subscriber.created" in listed.output
    assert "enabled" in listed.output and secret not in listed.output
    bad = add(receiver.url, "subscriber.created,subscriber.exploded")
    assert bad.exit_code == 1 and "unknown event type subscriber.exploded" in bad.output
    assert CliRunner().invoke(cli_app, ["webhooks", "remove", "1"]).exit_code == 0
    assert CliRunner().invoke(cli_app, ["webhooks", "remove", "1"]).exit_code == 1
    assert "no webhook endpoints" in CliRunner().invoke(cli_app, ["webhooks", "list"]).output


@pytest.mark.parametrize("address", [
    "127.0.0.1", "10.1.2.3", "172.16.0.9", "192.168.1.1", "169.254.169.254", "100.64.0.1",
    "::1", "fe80::1", "fc00::1", "::ffff:127.0.0.1", "0.0.0.0", "224.0.0.1",  # noqa: S104
])
def test_the_guard_refuses_every_non_public_address(address: str) -> None:
    def resolve(host: str, port: int, **kw: Any) -> list[tuple[Any, ...]]:
        return [(socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, port))]

    with pytest.raises(WebhookEndpointError, match=f"resolves to {address}"):
        allowed_addresses("hooks.example.org", 443, False, resolve)
    assert allowed_addresses("hooks.example.org", 443, False,
                             lambda *a, **k: [(0, 0, 0, "", ("93.184.215.14", 443))]
                             ) == ["93.184.215.14"]


def test_a_name_that_turns_private_later_is_refused_when_delivering(db: Database) -> None:
    """DNS rebinding: public when added, loopback when the request is made."""
    answers = iter(["93.184.215.14", "127.0.0.1"])

    def resolve(host: str, port: int, **kw: Any) -> list[tuple[Any, ...]]:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (next(answers), port))]

    store = WebhookStore(db)
    endpoint = add_endpoint(store, "https://hooks.example.org/in", ["subscriber.created"],
                            allow_private=False, resolve=resolve)
    SubscriberStore(db).add("a@example.org")
    hooks = Webhooks(store, HttpPoster(False, 2.0, resolve), lambda: dt.datetime.now(dt.UTC),
                     first_retry=5, timeout=2)
    assert hooks.drain() == 0
    [(_, kind, status, attempts, error)] = store.messages(endpoint.id)
    assert (kind, status, attempts) == ("subscriber.created", "pending", 1)
    assert "127.0.0.1, a loopback address" in error


def test_changes_queue_their_events_and_every_request_is_signed(
    db: Database, receiver: Receiver,
) -> None:
    endpoint_for(receiver, db)
    store = SubscriberStore(db)
    reader = store.add("reader@example.org", status="pending", reason="web sign-up")
    store.set_status(reader.id, "active", "confirmed by email link")
    store.set_preferences(reader.id, categories={"LG"}, language="en")  # no event for this
    store.set_status(reader.id, "unsubscribed", "one-click")
    other = store.add("bouncy@example.org", status="active")
    store.suppress("bouncy@example.org", "bounced", "mailbox does not exist")
    angry = store.add("angry@example.org", status="active")
    with pytest.raises(SubscriberExistsError):
        store.add("angry@example.org")  # rolled back: no event
    store.suppress("angry@example.org", "complained")
    assert angry.id
    campaigns = CampaignStore(db)
    campaign, _ = campaigns.start("2022-09-07", "issues/2022-09-07.yaml", [])
    assert sender(db).drain() == 8
    assert all(r.verified for r in receiver.received)
    assert [r.type for r in receiver.received] == [
        "subscriber.created", "subscriber.confirmed", "subscriber.unsubscribed",
        "subscriber.created", "subscriber.bounced", "subscriber.created",
        "subscriber.complained", "campaign.started"]
    assert receiver.received[-1].data["id"] == campaign.id
    confirmed = next(r for r in receiver.received if r.type == "subscriber.confirmed")
    assert confirmed.data == {"id": reader.id, "email": "reader@example.org",
                              "status": "active", "previous_status": "pending",
                              "reason": "confirmed by email link"}
    bounced = next(r for r in receiver.received if r.type == "subscriber.bounced")
    assert bounced.data["id"] == other.id and "does not exist" in bounced.data["reason"]
    assert len({r.id for r in receiver.received}) == len(receiver.received)
    assert sender(db).drain() == 0  # each delivered once


def test_only_the_events_asked_for_and_a_disabled_endpoint_gets_them_once_enabled(
    db: Database, receiver: Receiver,
) -> None:
    endpoint = endpoint_for(receiver, db, ("subscriber.confirmed",))
    store = SubscriberStore(db)
    reader = store.add("a@example.org")
    store.set_status(reader.id, "active", "confirmed by email link")
    WebhookStore(db).disable(endpoint, "testing")
    store.add("b@example.org", status="pending")
    store.set_status(store.add("c@example.org").id, "active", "confirmed")
    assert sender(db).drain() == 0  # disabled: nothing goes out, the messages wait
    WebhookStore(db).enable(endpoint)
    assert sender(db).drain() == 2
    assert [(r.type, r.data["email"]) for r in receiver.received] == [
        ("subscriber.confirmed", "a@example.org"), ("subscriber.confirmed", "c@example.org")]


def test_an_import_tells_of_every_reader_it_added(db: Database, receiver: Receiver) -> None:
    endpoint_for(receiver, db, ("subscriber.created",))
    store = SubscriberStore(db)
    store.add("there@example.org")
    result = store.add_many([NewSubscriber(f"r{n}@example.org", frozenset()) for n in range(3)]
                            + [NewSubscriber("there@example.org", frozenset())])
    assert result.added == 3
    assert sender(db).drain() == 4
    assert sorted(r.data["email"] for r in receiver.received) == [
        "r0@example.org", "r1@example.org", "r2@example.org", "there@example.org"]
    assert len({r.id for r in receiver.received}) == 4 and all(r.verified for r in
                                                                receiver.received)


def test_back_off_doubles_with_the_same_id_then_gives_up_after_24_hours(
    db: Database,
) -> None:
    receiver = Receiver(lambda n: 500, check_time=False)
    try:
        clock = FakeClock(START)
        endpoint = endpoint_for(receiver, db, ("subscriber.created",), clock)
        SubscriberStore(db, clock).add("a@example.org")
        hooks = sender(db, clock, first_retry=5.0)
        waits = []
        while WebhookStore(db).get(endpoint).disabled_at is None:  # type: ignore[union-attr]
            assert hooks.drain() == 0
            waits.append(clock.now)
            clock.advance(seconds=-1)
            assert hooks.drain() == 0 and len(receiver.received) == len(waits)  # not yet due
            with db.engine.connect() as conn:
                clock.now = conn.execute(select(webhook_messages.c.next_attempt_at)).scalar_one()
        gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(waits)]
        assert gaps[:5] == [5, 10, 20, 40, 80]
        assert max(gaps) <= 2 * 3600
        assert waits[-1] - START == GIVE_UP_AFTER
        assert {r.id for r in receiver.received} == {receiver.received[0].id}
        assert all(r.verified for r in receiver.received)
        found = WebhookStore(db).get(endpoint)
        assert found is not None and found.disabled_at is not None
        assert "over 24 hours" in found.disabled_reason
        assert "HTTP 500" in found.disabled_reason
        [(_, _, status, attempts, _)] = WebhookStore(db).messages(endpoint)
        assert status == "failed" and attempts == len(receiver.received)
        listed = CliRunner().invoke(cli_app, ["webhooks", "list"])
        assert "DISABLED" in listed.output and "HTTP 500" in listed.output
        assert "1 given up" in listed.output
    finally:
        receiver.stop()


def test_a_disabled_endpoint_enabled_again_gets_what_it_missed(db: Database) -> None:
    answers = {"fail": True}
    receiver = Receiver(lambda n: 500 if answers["fail"] else 200, check_time=False)
    try:
        clock = FakeClock(START)
        endpoint = endpoint_for(receiver, db, ("subscriber.created",), clock)
        SubscriberStore(db, clock).add("a@example.org")
        hooks = sender(db, clock)
        hooks.drain()
        clock.advance(hours=25)
        hooks.drain()
        assert WebhookStore(db).get(endpoint).disabled_at is not None  # type: ignore[union-attr]
        answers["fail"] = False
        assert CliRunner().invoke(cli_app, ["webhooks", "enable", str(endpoint)]).exit_code == 0
        clock.now = dt.datetime.now(dt.UTC)  # the command ran on the real clock
        assert hooks.drain() == 1
        assert len(receiver.delivered()) == 1
    finally:
        receiver.stop()


def test_redirects_are_not_followed(db: Database) -> None:
    receiver = Receiver(lambda n: 302)
    try:
        endpoint = endpoint_for(receiver, db, ("subscriber.created",))
        SubscriberStore(db).add("a@example.org")
        assert sender(db).drain() == 0
        [(_, _, status, _, error)] = WebhookStore(db).messages(endpoint)
        assert status == "pending" and error.startswith("HTTP 302")
    finally:
        receiver.stop()


def test_delivered_messages_are_forgotten_after_a_week(db: Database, receiver: Receiver
                                                       ) -> None:
    clock = FakeClock(START)
    endpoint = endpoint_for(receiver, db, ("subscriber.created",), clock)
    store = SubscriberStore(db, clock)
    store.add("old@example.org")
    hooks = sender(db, clock)
    assert hooks.drain() == 1
    clock.advance(days=6, hours=23)
    store.add("new@example.org")
    receiver.answer = lambda n: 500  # the new one waits
    hooks.drain()
    assert len(WebhookStore(db).messages(endpoint)) == 2  # not a week yet
    clock.advance(hours=2)
    hooks.drain()
    assert [m[1:3] for m in WebhookStore(db).messages(endpoint)] == [
        ("subscriber.created", "pending")]  # the delivered one of a week ago is gone
