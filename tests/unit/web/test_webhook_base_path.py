"""Under a path in NEWSLETTER_BASE_URL the webhook keeps its own body cap (issue #24, item 7).

The 16 KB form cap used to apply to ``/news/webhooks/ses``, so a genuine 29 KB bounce (many
recipients, long diagnostics) was lost with 413.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient
from support.sns import CERT_PEM, CERT_URL, NOW, TOPIC, bounce, signed

from newsletter.settings import Settings
from newsletter.store.db import open_database
from newsletter.store.subscribers import SubscriberStore
from newsletter.transports.outbox import OutboxTransport
from newsletter.web.app import create_app

BASE = "https://news.example.org/news"


def fetch(url: str) -> bytes:
    assert url == CERT_URL
    return CERT_PEM


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(sns_topic_arns=[TOPIC], base_url=BASE)
    db = open_database(settings.database_url)
    app = create_app(settings, db=db, transport=OutboxTransport(tmp_path / "out"),
                     clock=lambda: NOW, cert_fetcher=fetch)
    with TestClient(app) as client:
        yield client
    db.close()


def big_bounce(address: str) -> bytes:
    """A genuine SNS bounce of about 29 KB: one reader and 120 other recipients."""
    payload = bounce(address)
    message = json.loads(payload["Message"])
    message["bounce"]["bouncedRecipients"] += [
        {"emailAddress": f"other{n}@example.net", "diagnosticCode": "smtp; 550 5.1.1 " + "x" * 150}
        for n in range(120)
    ]
    payload["Message"] = json.dumps(message)
    body = signed(payload)
    assert 28_000 < len(body) < 40_000, len(body)
    return body


@pytest.mark.parametrize("path", ["/news/webhooks/ses", "/webhooks/ses"])
def test_a_big_genuine_bounce_is_applied_under_a_base_path(
    client: TestClient, path: str
) -> None:
    """With or without the prefix (a proxy may strip it), the bounce is applied, not 413."""
    response = client.post(path, content=big_bounce("gone@example.com"))
    assert response.status_code == 200, response.text
    assert response.json()["event"] == "bounce"


def test_forms_keep_the_small_cap_under_a_base_path(client: TestClient) -> None:
    """The sign-up form under the prefix still refuses a 20 KB body."""
    response = client.post("/news/subscribe", content=b"email=" + b"a" * 20_000,
                           headers={"content-type": "application/x-www-form-urlencoded"})
    assert response.status_code == 413


def test_store_sees_the_bounce(client: TestClient) -> None:
    """The reader named in the big bounce is suppressed."""
    db = open_database(Settings().database_url)
    try:
        store = SubscriberStore(db)
        store.add("gone@example.com", status="active", source="cli")
        client.post("/news/webhooks/ses", content=big_bounce("gone@example.com"))
        assert store.is_suppressed("gone@example.com")
    finally:
        db.close()
