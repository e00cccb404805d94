"""The SES webhook against a test CA's certificate on loopback: what it accepts and refuses."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient
from support.sns import TOPIC, CertificateServer, keypair, notification, signed

from newsletter.settings import Settings
from newsletter.store.db import open_database
from newsletter.store.subscribers import SubscriberStore
from newsletter.transports.outbox import OutboxTransport
from newsletter.web.app import create_app

READER = "reader@example.com"


def bounce(address: str = READER, kind: str = "Permanent") -> dict[str, Any]:
    return {
        "eventType": "Bounce",
        "bounce": {"bounceType": kind, "bounceSubType": "General",
                   "bouncedRecipients": [{"emailAddress": address}],
                   "timestamp": dt.datetime.now(dt.UTC).isoformat()},
        "mail": {"messageId": "ses-1", "destination": [address]},
    }


@pytest.fixture
def certs() -> Iterator[CertificateServer]:
    server = CertificateServer()
    yield server
    server.close()


@pytest.fixture
def site(tmp_path: Path, certs: CertificateServer) -> Iterator[tuple[TestClient, SubscriberStore]]:
    settings = Settings(sns_topic_arns=[TOPIC], sns_cert_host_for_tests=certs.host)
    db = open_database(settings.database_url)
    store = SubscriberStore(db)
    store.add(READER, status="active", source="cli")
    app = create_app(settings, db=db, transport=OutboxTransport(tmp_path / "out"))
    with TestClient(app) as client:
        yield client, store
    db.close()


def unchanged(store: SubscriberStore) -> bool:
    found = store.find(READER)
    return found is not None and found.status == "active" and not store.is_suppressed(READER)


@pytest.mark.parametrize("version", ["1", "2"])
def test_valid_signatures_are_accepted(
    site: tuple[TestClient, SubscriberStore], certs: CertificateServer, version: str
) -> None:
    """SignatureVersion 1 (SHA1) and 2 (SHA256) from the loopback certificate verify."""
    client, store = site
    body = certs.sign(notification(bounce(), f"m-{version}"), version=version)
    response = client.post("/webhooks/ses", content=body)
    assert response.status_code == 200, response.text
    assert response.json() == {"event": "bounce", "suppressed": 1}
    assert not unchanged(store)


def tampered(certs: CertificateServer) -> bytes:
    body = json.loads(certs.sign(notification(bounce("other@example.com"), "m-t")))
    body["Message"] = body["Message"].replace("other@example.com", READER)
    return json.dumps(body).encode()


def wrong_key(certs: CertificateServer) -> bytes:
    other, _ = keypair()
    return signed(notification(bounce(), "m-k"), other, "2", certs.url)


def wrong_topic(certs: CertificateServer) -> bytes:
    payload = notification(bounce(), "m-w")
    payload["TopicArn"] = "arn:aws:sns:eu-west-1:999999999999:someone-else"
    return certs.sign(payload)


def foreign_host(certs: CertificateServer) -> bytes:
    return signed(notification(bounce(), "m-f"), certs.key, "2",
                  certs.url.replace("127.0.0.1", "127.0.0.2"))


def http_sns_host(certs: CertificateServer) -> bytes:
    url = "http://sns.eu-west-1.amazonaws.com/SimpleNotificationService-test.pem"
    return signed(notification(bounce(), "m-h"), certs.key, "2", url)


def s3_style_host(certs: CertificateServer) -> bytes:
    url = "https://sns.s3.amazonaws.com/SimpleNotificationService-test.pem"
    return signed(notification(bounce(), "m-s"), certs.key, "2", url)


def trailing_newline(certs: CertificateServer) -> bytes:
    url = "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-test.pem\n"
    return signed(notification(bounce(), "m-n"), certs.key, "2", url)


def unknown_version(certs: CertificateServer) -> bytes:
    body = json.loads(certs.sign(notification(bounce(), "m-v")))
    body["SignatureVersion"] = "3"
    return json.dumps(body).encode()


def stale(certs: CertificateServer) -> bytes:
    when = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1, minutes=1)
    return certs.sign(notification(bounce(), "m-old", when))


def deep(certs: CertificateServer) -> bytes:
    return b'{"Type": ' + b"[" * 5000 + b"]" * 5000 + b"}"


def odd(certs: CertificateServer) -> bytes:
    return b'{"Type": "Notification", "TopicArn": NaN}'


@pytest.mark.parametrize(
    ("make", "fetches"),
    [(tampered, 1), (wrong_key, 1), (wrong_topic, 0), (foreign_host, 0), (http_sns_host, 0),
     (s3_style_host, 0), (trailing_newline, 0), (unknown_version, 0), (stale, 0), (deep, 0),
     (odd, 0)],
    ids=lambda v: getattr(v, "__name__", str(v)),
)
def test_doubtful_messages_are_refused_and_change_nothing(
    site: tuple[TestClient, SubscriberStore], certs: CertificateServer, make: Any, fetches: int
) -> None:
    """Each kind of forged, foreign, stale or odd message gets 403; nothing is applied."""
    client, store = site
    response = client.post("/webhooks/ses", content=make(certs))
    assert response.status_code == 403, response.text
    assert unchanged(store)
    assert certs.requests == fetches  # only our loopback host, and only when it had to be


def test_an_unfetchable_certificate_is_a_refusal_not_an_error(
    site: tuple[TestClient, SubscriberStore], certs: CertificateServer
) -> None:
    """The certificate host being down gives 403, never 500, and changes nothing."""
    client, store = site
    body = certs.sign(notification(bounce(), "m-down"))
    certs.close()
    response = client.post("/webhooks/ses", content=body)
    assert response.status_code == 403
    assert unchanged(store)


def test_a_replayed_message_id_is_acknowledged_and_changes_nothing(
    site: tuple[TestClient, SubscriberStore], certs: CertificateServer
) -> None:
    """The same MessageId again (even re-signed with other content) is 200 and ignored."""
    client, store = site
    first = client.post("/webhooks/ses",
                        content=certs.sign(notification(bounce(kind="Transient"), "m-r")))
    assert first.json() == {"event": "bounce", "suppressed": 0}
    again = client.post("/webhooks/ses", content=certs.sign(notification(bounce(), "m-r")))
    assert again.status_code == 200
    assert again.json() == {"replayed": "m-r"}
    assert unchanged(store)


def test_a_body_over_the_cap_is_refused_before_it_is_read(
    site: tuple[TestClient, SubscriberStore],
) -> None:
    """A declared Content-Length over 256 KB gets 413 at once; nothing changes."""
    client, store = site
    response = client.post("/webhooks/ses", content=b"x" * (256 * 1024 + 1))
    assert response.status_code == 413
    assert unchanged(store)


def test_the_certificate_is_fetched_once_and_then_verified_without_the_network(
    site: tuple[TestClient, SubscriberStore], certs: CertificateServer
) -> None:
    """The first message fetches the signing certificate; later ones (and a duplicate and a
    replay among them) are verified from the cache; a certificate that later cannot be
    fetched does not matter to messages signed with the cached one."""
    client, _ = site
    answers = [client.post("/webhooks/ses", content=certs.sign(
        notification(bounce(f"r{n}@example.com"), f"m-c{n}"))) for n in range(5)]
    assert [a.status_code for a in answers] == [200] * 5
    assert certs.requests == 1
    replay = client.post("/webhooks/ses", content=certs.sign(
        notification(bounce("r0@example.com"), "m-c0")))
    assert replay.json() == {"replayed": "m-c0"} and certs.requests == 1
