"""POST /webhooks/ses: verified SES bounces and complaints become suppressions."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient
from support.sns import CERT_PEM, CERT_URL, NOW, TOPIC
from support.sns import bounce as _bounce
from support.sns import keypair as _keypair
from support.sns import signed as _signed

from newsletter.settings import Settings
from newsletter.store.db import open_database
from newsletter.store.subscribers import SubscriberStore
from newsletter.transports.outbox import OutboxTransport
from newsletter.web.app import create_app


class Fetcher:
    """Serves our test certificate for the pinned URL and records every fetch."""

    def __init__(self) -> None:
        self.fetched: list[str] = []

    def __call__(self, url: str) -> bytes:
        self.fetched.append(url)
        return CERT_PEM if url == CERT_URL else b"<ConfirmSubscriptionResponse/>"


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[TestClient, SubscriberStore, Fetcher]]:
    settings = Settings(sns_topic_arns=[TOPIC])
    db = open_database(settings.database_url)
    store = SubscriberStore(db, clock=lambda: NOW)
    fetcher = Fetcher()
    app = create_app(
        settings,
        db=db,
        transport=OutboxTransport(tmp_path / "out"),
        clock=lambda: NOW,
        cert_fetcher=fetcher,
    )
    with TestClient(app) as client:
        yield client, store, fetcher
    db.close()


def test_permanent_bounce_suppresses_the_subscriber(
    site: tuple[TestClient, SubscriberStore, Fetcher],
) -> None:
    """A verified permanent bounce marks the subscriber bounced and suppresses the address."""
    client, store, _ = site
    store.add("gone@example.com", status="active", source="cli")
    response = client.post("/webhooks/ses", content=_signed(_bounce("gone@example.com")))
    assert response.status_code == 200, response.text
    assert response.json() == {"event": "bounce", "suppressed": 1}
    found = store.find("gone@example.com")
    assert found is not None and found.status == "bounced"
    assert store.is_suppressed("gone@example.com")


def test_complaint_for_unknown_address_still_suppresses(
    site: tuple[TestClient, SubscriberStore, Fetcher],
) -> None:
    """A complaint about an address we do not know adds a suppression anyway."""
    client, store, _ = site
    message = {
        "notificationType": "Complaint",
        "complaint": {
            "complainedRecipients": [{"emailAddress": "angry@example.com"}],
            "complaintFeedbackType": "abuse",
        },
        "mail": {"messageId": "x"},
    }
    payload = {**_bounce(), "Message": json.dumps(message)}
    assert client.post("/webhooks/ses", content=_signed(payload)).status_code == 200
    assert store.is_suppressed("angry@example.com")


def test_forged_webhook_is_refused_and_changes_nothing(
    site: tuple[TestClient, SubscriberStore, Fetcher],
) -> None:
    """A notification signed with another key gets 403 and the subscriber stays active."""
    client, store, _ = site
    store.add("victim@example.com", status="active", source="cli")
    other_key, _ = _keypair()
    response = client.post(
        "/webhooks/ses", content=_signed(_bounce("victim@example.com"), key=other_key)
    )
    assert response.status_code == 403
    found = store.find("victim@example.com")
    assert found is not None and found.status == "active"
    assert not store.is_suppressed("victim@example.com")


def test_transient_bounce_changes_nothing(
    site: tuple[TestClient, SubscriberStore, Fetcher],
) -> None:
    """A transient bounce is acknowledged without suppressing anyone."""
    client, store, _ = site
    store.add("busy@example.com", status="active", source="cli")
    response = client.post(
        "/webhooks/ses", content=_signed(_bounce("busy@example.com", kind="Transient"))
    )
    assert response.json() == {"event": "bounce", "suppressed": 0}
    assert not store.is_suppressed("busy@example.com")


def test_subscription_confirmation_is_confirmed(
    site: tuple[TestClient, SubscriberStore, Fetcher],
) -> None:
    """SNS's SubscriptionConfirmation makes the server visit the pinned SubscribeURL."""
    client, _, fetcher = site
    url = "https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=t&Token=k"
    payload = {
        "Type": "SubscriptionConfirmation",
        "MessageId": "m",
        "Token": "k",
        "TopicArn": TOPIC,
        "Message": "confirm",
        "SubscribeURL": url,
        "Timestamp": "2026-11-24T11:00:00.000Z",
    }
    response = client.post("/webhooks/ses", content=_signed(payload))
    assert response.status_code == 200
    assert fetcher.fetched == [CERT_URL, url]


def test_webhook_route_absent_without_topics(tmp_path: Path) -> None:
    """Without NEWSLETTER_SNS_TOPIC_ARNS there is no webhook endpoint at all."""
    settings = Settings()
    db = open_database(settings.database_url)
    app = create_app(settings, db=db, transport=OutboxTransport(tmp_path / "o"))
    with TestClient(app) as client:
        assert client.post("/webhooks/ses", content=_signed(_bounce())).status_code in (404, 405)
    db.close()
