"""The SQS client of ``events poll`` keeps a connection for each thread that calls SQS at
once (the receivers and the deleters): none is opened, used once and thrown away, which
against SQS itself is a TLS handshake each time (issue 17: a tenth of the calls did so)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from support.env import use_loopback_ses
from support.ses_events import client
from support.sqs_sim import SqsSimulator

from newsletter import wiring
from newsletter.feedback.sqs import poll
from newsletter.settings import Settings


def send_event(n: int) -> str:
    return json.dumps({"eventType": "Send", "send": {},
                       "mail": {"messageId": f"ses-{n}", "destination": [f"r{n}@example.org"]}})


@pytest.mark.parametrize("receivers", [8, 12])
@pytest.mark.slow
def test_the_poller_reuses_its_sqs_connections(
    receivers: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with SqsSimulator(latency=0.02) as sim:
        use_loopback_ses(monkeypatch, tmp_path, sim.url)
        sqs = client("sqs", sim.url)
        queue = sqs.create_queue(QueueName="events")["QueueUrl"]
        for first in range(0, 400, 10):
            sqs.send_message_batch(QueueUrl=queue, Entries=[
                {"Id": str(n), "MessageBody": send_event(n)} for n in range(first, first + 10)])
        settings = Settings(database_url=f"sqlite:///{tmp_path / 'q.db'}",
                            sqs_endpoint_url=sim.url, ses_region="us-east-1")
        events = wiring.sqs_queue(settings, queue)
        with caplog.at_level(logging.WARNING, logger="urllib3"), \
                wiring.database(settings) as db:
            result = poll(events, wiring.feedback(settings, db), once=True, wait=0,
                          receivers=receivers)
        left = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["All"])["Attributes"]

    assert (result.received, result.applied, result.kept) == (400, 400, 0)
    assert int(left["ApproximateNumberOfMessages"]) == 0
    assert int(left["ApproximateNumberOfMessagesNotVisible"]) == 0
    discarded = [r.getMessage() for r in caplog.records if "pool is full" in r.getMessage()]
    assert discarded == []
