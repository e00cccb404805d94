"""`events poll` against moto's SQS, and against the benchmark's SQS simulator (which must
behave as moto does for what the poller uses): raw and SNS-wrapped events applied, bad
ones kept."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from support.env import use_loopback_ses
from support.ses_events import client
from support.sns import TOPIC, CertificateServer, notification
from support.sqs_sim import SqsSimulator

from newsletter import wiring
from newsletter.feedback.sqs import poll
from newsletter.settings import Settings
from newsletter.store.db import open_database
from newsletter.store.subscribers import SubscriberStore


@pytest.fixture
def certs() -> Iterator[CertificateServer]:
    server = CertificateServer()
    yield server
    server.close()


def bounce(address: str) -> dict[str, Any]:
    return {"eventType": "Bounce",
            "bounce": {"bounceType": "Permanent", "bounceSubType": "General",
                       "bouncedRecipients": [{"emailAddress": address}]},
            "mail": {"messageId": f"ses-{address}", "destination": [address]}}


@pytest.fixture(params=["moto", "simulator"])
def sqs_url(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch,
            tmp_path: Path) -> Iterator[str]:
    if request.param == "moto":
        request.getfixturevalue("ses")
        yield str(request.getfixturevalue("moto_ses_url"))
        return
    with SqsSimulator(latency=0) as sim:
        use_loopback_ses(monkeypatch, tmp_path, sim.url)
        yield sim.url


def test_raw_and_verified_envelopes_are_applied_and_bad_messages_kept(
    sqs_url: str, certs: CertificateServer, migrated_sqlite: Callable[[str], str]
) -> None:
    """A signed SNS envelope is applied and deleted; raw SES JSON (not trusted while SNS
    topics are configured: issue 24), a forged envelope and garbage stay queued (no
    dead-letter store is given here; see test_dead_letters.py)."""
    sqs = client("sqs", sqs_url)
    queue = sqs.create_queue(QueueName="events")["QueueUrl"]
    forged = json.loads(certs.sign(notification(bounce("forged@example.com"), "sns-2")))
    forged["Message"] = forged["Message"].replace("forged@", "victim@")
    for body in (json.dumps(bounce("raw@example.com")),
                 certs.sign(notification(bounce("wrapped@example.com"), "sns-1")).decode(),
                 json.dumps(forged), "not json"):
        sqs.send_message(QueueUrl=queue, MessageBody=body)
    settings = Settings(database_url=migrated_sqlite("q.db"), sns_topic_arns=[TOPIC],
                        sns_cert_host_for_tests=certs.host, sqs_endpoint_url=sqs_url,
                        ses_region="us-east-1")

    events = wiring.sqs_queue(settings, queue)
    with wiring.database(settings) as db:
        result = poll(events, wiring.feedback(settings, db), once=True, wait=0)

    assert (result.received, result.applied, result.kept, result.suppressed) == (4, 1, 3, 1)
    db = open_database(settings.database_url)
    store = SubscriberStore(db)
    assert store.is_suppressed("wrapped@example.com")
    assert not store.is_suppressed("raw@example.com")
    assert not store.is_suppressed("victim@example.com")
    db.close()
    left = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["All"])["Attributes"]
    # The three refused messages were received (now invisible) but never deleted.
    assert int(left["ApproximateNumberOfMessages"]) + int(
        left["ApproximateNumberOfMessagesNotVisible"]) == 3
