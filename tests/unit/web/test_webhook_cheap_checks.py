"""The SES webhook checks what costs nothing before anything costs a request, and answers
a confirmation it cannot complete so that SNS tries again (issue #24, item 13 and "Also").

The fetcher here stands in for the network (no test reaches the internet): it serves the
test certificate for its one URL and fails for every other, as an unreachable host would.
"""

from __future__ import annotations

import base64
import json
import urllib.error
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient
from support.sns import CERT_PEM, CERT_URL, NOW, TOPIC, bounce, signed

from newsletter.settings import Settings
from newsletter.store.db import open_database
from newsletter.transports.outbox import OutboxTransport
from newsletter.web.app import create_app

SUBSCRIBE = "https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=t&Token=k"


class Network:
    """Serves the test certificate; every other URL fails as an unreachable host does."""

    def __init__(self) -> None:
        self.fetched: list[str] = []

    def __call__(self, url: str) -> bytes:
        self.fetched.append(url)
        if url == CERT_URL:
            return CERT_PEM
        raise urllib.error.URLError("[Errno 101] Network is unreachable")


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[TestClient, Network]]:
    settings = Settings(sns_topic_arns=[TOPIC])
    db = open_database(settings.database_url)
    network = Network()
    app = create_app(settings, db=db, transport=OutboxTransport(tmp_path / "out"),
                     clock=lambda: NOW, cert_fetcher=network)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, network
    db.close()


def confirmation() -> dict[str, Any]:
    return {"Type": "SubscriptionConfirmation", "MessageId": "m-sub", "Token": "k",
            "TopicArn": TOPIC, "Message": "confirm", "SubscribeURL": SUBSCRIBE,
            "Timestamp": "2026-11-24T11:59:00.000Z"}


def test_a_confirmation_whose_url_cannot_be_fetched_is_answered_for_a_retry(
    site: tuple[TestClient, Network],
) -> None:
    """A genuine SubscriptionConfirmation whose SubscribeURL is unreachable gets 503 with
    Retry-After (SNS retries 5xx), not a 500 with a traceback."""
    client, network = site
    response = client.post("/webhooks/ses", content=signed(confirmation()))
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"].isdigit()
    assert "Traceback" not in response.text
    assert network.fetched == [CERT_URL, SUBSCRIBE]


def forged(change: Callable[[dict[str, Any]], None], n: int) -> bytes:
    """A message naming a new pinned-pattern certificate URL, with one thing wrong."""
    body = json.loads(signed(bounce()))
    body["SigningCertURL"] = (
        f"https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-forged{n}.pem")
    change(body)
    return json.dumps(body).encode()


CHEAP: dict[str, Callable[[dict[str, Any]], None]] = {
    "signature not base64": lambda b: b.update(Signature="not base64!"),
    "signature too short": lambda b: b.update(Signature=base64.b64encode(b"x" * 16).decode()),
    "no MessageId": lambda b: b.pop("MessageId"),
    "no Timestamp": lambda b: b.pop("Timestamp"),
    "stale": lambda b: b.update(Timestamp="2026-11-24T09:00:00.000Z"),
    "unknown type": lambda b: b.update(Type="Gossip"),
    "foreign topic": lambda b: b.update(TopicArn="arn:aws:sns:eu-west-1:999999999999:x"),
    "certificate in another region": lambda b: b.update(
        SigningCertURL="https://sns.us-east-1.amazonaws.com/SimpleNotificationService-f.pem"),
    "foreign SubscribeURL": lambda b: b.update(
        Type="SubscriptionConfirmation", Token="k", SubscribeURL="https://example.org/x"),
}


@pytest.mark.parametrize("name", sorted(CHEAP))
def test_a_message_failing_a_cheap_check_costs_no_request(
    site: tuple[TestClient, Network], name: str
) -> None:
    """Refused with 403 before the certificate is fetched: nothing leaves the server."""
    client, network = site
    response = client.post("/webhooks/ses", content=forged(CHEAP[name], 1))
    assert response.status_code == 403, response.text
    assert network.fetched == []


def test_a_certificate_that_failed_is_not_fetched_again_at_once(
    site: tuple[TestClient, Network],
) -> None:
    """Five posts naming one unreachable certificate URL cost one request, not five."""
    client, network = site
    for _ in range(5):
        response = client.post("/webhooks/ses", content=forged(lambda b: None, 7))
        assert response.status_code == 403
    assert len(network.fetched) == 1
