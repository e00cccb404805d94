"""Issue 25 item 4 and issue 24 item 4: a queue message that cannot be used is set aside
alone (a dead letter, with the reason) and the poller goes on; with SNS topics configured,
raw SES JSON from the queue is not trusted.

Real parts: the SQS simulator over HTTP, SQLite and PostgreSQL, SNS envelopes signed by a
test CA.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest
from sqlalchemy import func, select
from support.ses_events import client
from support.sns import TOPIC, CertificateServer, notification
from support.sqs_sim import SqsSimulator
from typer.testing import CliRunner

from newsletter import wiring
from newsletter.cli.main import app
from newsletter.feedback.apply import GroupCommit
from newsletter.feedback.ses_events import event_from
from newsletter.feedback.sqs import poll
from newsletter.settings import Settings
from newsletter.store.db import Database, open_database, upgrade
from newsletter.store.dead_letters import DeadLetterStore
from newsletter.store.events import ApplyResult, EventStore, Received
from newsletter.store.subscribers import SubscriberStore
from newsletter.store.tables import ses_events


@pytest.fixture
def sqs() -> Iterator[SqsSimulator]:
    with SqsSimulator(latency=0) as sim:
        yield sim


@pytest.fixture
def certs() -> Iterator[CertificateServer]:
    server = CertificateServer()
    yield server
    server.close()


def send_event(n: int) -> dict[str, Any]:
    return {"eventType": "Send", "send": {},
            "mail": {"messageId": f"ses-{n}", "destination": [f"r{n}@example.org"]}}


def bounce(address: str) -> dict[str, Any]:
    return {"eventType": "Bounce",
            "bounce": {"bounceType": "Permanent", "bounceSubType": "General",
                       "bouncedRecipients": [{"emailAddress": address}]},
            "mail": {"messageId": f"ses-{address}", "destination": [address]}}


def stored(db: Database) -> int:
    with db.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(ses_events)).scalar_one())


def fill(sqs: SqsSimulator, bodies: list[str]) -> str:
    sqs_client = client("sqs", sqs.url)
    queue = str(sqs_client.create_queue(QueueName="events")["QueueUrl"])
    for first in range(0, len(bodies), 10):
        sqs_client.send_message_batch(QueueUrl=queue, Entries=[
            {"Id": str(i), "MessageBody": body}
            for i, body in enumerate(bodies[first:first + 10])])
    return queue


def left_in(sqs: SqsSimulator, queue: str) -> int:
    attributes = client("sqs", sqs.url).get_queue_attributes(
        QueueUrl=queue, AttributeNames=["All"])["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"])


@pytest.mark.slow
def test_poison_messages_beside_300_good_ones_leave_the_300_applied(
    sqs: SqsSimulator, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Five kinds of bad message among 300 good Send events: the 300 are applied, each bad
    one is set aside with its reason, nothing is left in the queue, and the poller ends."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    if not database_url.startswith("sqlite"):
        upgrade(database_url)
    headers_not_a_list = send_event(1000)
    headers_not_a_list["mail"]["headers"] = 7
    recipients_not_a_list = bounce("odd@example.org")
    recipients_not_a_list["bounce"]["bouncedRecipients"] = 5
    nul = bounce("nul\x00@example.org")
    poison = ["not json", "[1, 2]", json.dumps({"Type": "Notification", "Message": "{}"}),
              '{"eventType": "Send", "mail": ' * 40 + "{}" + "}" * 40]
    good = [json.dumps(send_event(n)) for n in range(300)]
    bodies = good[:100] + poison[:2] + good[100:200] + poison[2:] + [json.dumps(nul)] \
        + good[200:] + [json.dumps(headers_not_a_list), json.dumps(recipients_not_a_list)]
    queue = fill(sqs, bodies)
    settings = Settings(database_url=database_url, sqs_endpoint_url=sqs.url,
                        ses_region="us-east-1")
    db = open_database(database_url)
    try:
        dead = DeadLetterStore(db)
        result = poll(wiring.sqs_queue(settings, queue), wiring.feedback(settings, db),
                      once=True, wait=0, receivers=4, dead_letters=dead)

        on_postgres = db.dialect == "postgresql"
        bad = len(poison) + (1 if on_postgres else 0)  # SQLite can store a NUL
        assert result.received == len(bodies)
        assert result.dead_lettered == dead.count() == bad
        assert result.applied == stored(db) == len(bodies) - bad
        assert result.kept == 0 and left_in(sqs, queue) == 0
        letters = dead.recent()
        assert {letter.body.decode() for letter in letters} == set(
            poison + ([json.dumps(nul)] if on_postgres else []))
        reasons = " | ".join(letter.reason for letter in letters)
        assert "is not JSON" in reasons and "not a JSON object" in reasons
        assert "NEWSLETTER_SNS_TOPIC_ARNS is not set" in reasons
        assert "nests deeper" in reasons
        if on_postgres:
            assert "NUL" in reasons
        assert SubscriberStore(db).is_suppressed("odd@example.org") is False  # no recipient
    finally:
        db.close()


def test_raw_ses_json_is_refused_when_sns_topics_are_configured(
    sqs: SqsSimulator, certs: CertificateServer, migrated_sqlite: Callable[[str], str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A forged raw complaint in the queue suppresses nobody when topics are set; the same
    event in a signed SNS envelope is applied."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    forged = {"eventType": "Complaint", "complaint": {
        "complainedRecipients": [{"emailAddress": "victim@example.org"}]},
        "mail": {"messageId": "ses-forged", "destination": ["victim@example.org"]}}
    signed = certs.sign(notification(bounce("real@example.org"), "sns-1")).decode()
    queue = fill(sqs, [json.dumps(forged), signed])
    url = migrated_sqlite("q.db")
    settings = Settings(database_url=url, sns_topic_arns=[TOPIC],
                        sns_cert_host_for_tests=certs.host, sqs_endpoint_url=sqs.url,
                        ses_region="us-east-1")
    with wiring.database(settings) as db:
        dead = DeadLetterStore(db)
        result = poll(wiring.sqs_queue(settings, queue), wiring.feedback(settings, db),
                      once=True, wait=0, dead_letters=dead)
        subscribers = SubscriberStore(db)
        assert not subscribers.is_suppressed("victim@example.org")
        assert subscribers.is_suppressed("real@example.org")
        assert (result.applied, result.dead_lettered) == (1, 1)
        (letter,) = dead.recent()
        assert "only SNS envelopes that verify are accepted" in letter.reason
        assert json.loads(letter.body) == forged

    runner = CliRunner()
    listed = runner.invoke(app, ["events", "dead-letters"],
                           env={"NEWSLETTER_DATABASE_URL": url})
    assert listed.exit_code == 0, listed.output
    assert "1 dead letters" in listed.output
    assert "only SNS envelopes that verify" in listed.output and "victim@" in listed.output


class Gated:
    """The real store, whose first apply waits until the test opens the gate (so that the
    other requests gather into one group behind it)."""

    def __init__(self, store: EventStore) -> None:
        self.store = store
        self.gate = threading.Event()
        self.entered = threading.Event()

    def apply(self, batch: Sequence[Received]) -> ApplyResult:
        if not self.entered.is_set():
            self.entered.set()
            self.gate.wait(10)
        return self.store.apply(batch)


def test_a_bad_webhook_event_fails_alone_not_with_its_group(migrated_postgres_url: str) -> None:
    """Eight webhook requests applied as one group on PostgreSQL, one with a NUL in its
    address: the seven others are applied, only that request fails."""
    db = open_database(migrated_postgres_url)
    try:
        store = EventStore(db)
        sink = Gated(store)
        group = GroupCommit(sink)
        events = [Received(event_from(send_event(n))) for n in range(7)]
        events.insert(3, Received(event_from(bounce("nul\x00@example.org"))))

        async def all_at_once() -> list[Any]:
            first = asyncio.ensure_future(group.apply([events[0]]))
            assert await asyncio.to_thread(sink.entered.wait, 10)
            rest = [asyncio.ensure_future(group.apply([e])) for e in events[1:]]
            while len(group._pending) < len(rest):
                await asyncio.sleep(0.01)
            sink.gate.set()
            return list(await asyncio.gather(first, *rest, return_exceptions=True))

        outcomes = asyncio.run(all_at_once())
        failed = [n for n, o in enumerate(outcomes) if isinstance(o, Exception)]
        assert failed == [3]
        assert "NUL" in str(outcomes[3])
        assert stored(db) == 7
    finally:
        db.close()
