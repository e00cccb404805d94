"""`build`'s sample .eml: its links must not act on any real reader."""

from __future__ import annotations

import re
from email import message_from_bytes
from pathlib import Path

from starlette.testclient import TestClient

from newsletter import wiring
from newsletter.editing.build import build
from newsletter.settings import get_settings
from newsletter.store.db import Database, open_database
from newsletter.store.subscribers import SubscriberStore
from newsletter.transports.outbox import OutboxTransport
from newsletter.web.app import create_app


def _links(eml: bytes) -> dict[str, str]:
    message = message_from_bytes(eml)
    header = str(message["List-Unsubscribe"])
    unsubscribe = re.search(r"/unsubscribe/[^>]+", header)
    assert unsubscribe, header
    body = b"".join(
        part.get_payload(decode=True) or b"" for part in message.walk()
        if part.get_content_type() == "text/plain"
    ).decode("utf-8")
    preferences = re.search(r"/preferences/[A-Za-z0-9._-]+", body)
    assert preferences, body
    return {"unsubscribe": unsubscribe.group(0), "preferences": preferences.group(0)}


def test_sample_links_cannot_unsubscribe_or_reconfigure_the_first_reader(
    sample_issue_path: Path, tmp_path: Path
) -> None:
    """The sample's unsubscribe and preferences links leave subscriber 1 untouched."""
    settings = get_settings()
    db: Database = open_database(settings.database_url)
    try:
        store = SubscriberStore(db)
        first = store.add("first@example.org", status="active", categories={"LG"}, language="zh")
        assert first.id == 1
        result = build(sample_issue_path, tmp_path / "out", wiring.workbench(settings))
        links = _links(result.files["eml"].read_bytes())
        app = create_app(settings, db=db, transport=OutboxTransport(tmp_path / "o"))
        with TestClient(app) as client:
            page = client.get(links["preferences"])
            # The id is send-test's: the page says so and names nobody.
            assert page.status_code == 200 and "This is a test message" in page.text
            assert "first@example.org"[1:] not in page.text
            client.post(links["unsubscribe"], data={"List-Unsubscribe": "One-Click"})
        after = store.get(first.id)
        assert after is not None and after.status == "active"
    finally:
        db.close()
