"""The desk's integrations page (issue 22): the snippet, API tokens, webhook endpoints."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support.desk import EDITOR, DeskSite, desk_site
from support.webhook_receiver import Receiver

from newsletter.settings import get_settings
from newsletter.store.api_tokens import ApiTokenStore
from newsletter.store.db import Database
from newsletter.store.desk import DeskStore
from newsletter.store.webhooks import WebhookStore


@pytest.fixture
def desk(db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[DeskSite]:
    monkeypatch.setenv("NEWSLETTER_EMBED_ORIGINS", "https://blog.example.org")
    monkeypatch.setenv("NEWSLETTER_WEBHOOKS_ALLOW_PRIVATE", "true")
    with desk_site(get_settings(), db, tmp_path / "outbox") as site:
        yield site


def test_the_page_shows_the_snippet_origins_and_tokens(desk: DeskSite, db: Database) -> None:
    ApiTokenStore(db).create("crm", "write")
    assert desk.client.get("/admin/integrations").status_code in (302, 303)  # signed out
    desk.sign_in()
    page = desk.client.get("/admin/integrations")
    assert page.status_code == 200
    assert "https://blog.example.org" in page.text
    # The snippet, escaped into the text box (never live on the desk page itself).
    assert ('&lt;form class=&#34;nl-signup&#34; action=&#34;'
            'https://news.example.org/api/v1/subscribe&#34;') in page.text
    assert "<script>\ndocument" not in page.text
    assert "<td>crm</td><td>write</td>" in page.text
    assert 'aria-current="page"' in page.text


def test_adding_shows_the_secret_once_and_removing_is_audited(
    desk: DeskSite, db: Database,
) -> None:
    receiver = Receiver()
    try:
        csrf = desk.sign_in()
        refused = desk.client.post("/admin/integrations/webhooks", data={
            "csrf": csrf, "url": "ftp://x.example", "events": ["subscriber.created"]})
        assert refused.status_code == 400 and "not an http:// or https:// URL" in refused.text
        added = desk.client.post("/admin/integrations/webhooks", data={
            "csrf": csrf, "url": receiver.url,
            "events": ["subscriber.created", "campaign.finished"]})
        assert added.status_code == 201
        [endpoint] = WebhookStore(db).all()
        assert endpoint.events == {"subscriber.created", "campaign.finished"}
        assert endpoint.secret in added.text
        again = desk.client.get("/admin/integrations")
        assert endpoint.secret not in again.text and receiver.url in again.text
        forged = desk.client.post("/admin/integrations/webhooks/remove",
                                  data={"csrf": "nope", "id": str(endpoint.id)})
        assert forged.status_code == 403 and WebhookStore(db).all()
        WebhookStore(db).disable(endpoint.id, "gave up on msg_1 after 24 hours: HTTP 500")
        shown = desk.client.get("/admin/integrations").text
        assert "gave up on msg_1 after 24 hours: HTTP 500" in shown
        assert desk.client.post("/admin/integrations/webhooks/enable", data={
            "csrf": csrf, "id": str(endpoint.id)}).status_code == 303
        assert WebhookStore(db).all()[0].disabled_at is None
        assert desk.client.post("/admin/integrations/webhooks/remove", data={
            "csrf": csrf, "id": str(endpoint.id)}).status_code == 303
        assert WebhookStore(db).all() == []
        actions = [(e.actor, e.action) for e in reversed(DeskStore(db).audit_entries())
                   if "webhook" in e.action]
        assert actions == [(EDITOR, "add webhook"), (EDITOR, "enable webhook"),
                           (EDITOR, "remove webhook")]
    finally:
        receiver.stop()
