"""Links in `send-test` messages open a "this is a test message" page, not "link not valid"."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient
from support.delivery import outbox, subscribe
from support.env import TEST_SECRET
from support.sending import send_test

from newsletter.settings import get_settings
from newsletter.store.db import open_database
from newsletter.store.subscribers import SubscriberStore
from newsletter.tokens import Purpose, make_token
from newsletter.web.app import create_app


@pytest.fixture
def client() -> Iterator[TestClient]:
    with TestClient(create_app(get_settings()), follow_redirects=False) as client:
        yield client


def links_of_a_test_message(sample_issue_path: Path, tmp_path: Path) -> dict[str, str]:
    """Send a test message; return its personal links by purpose."""
    send_test(get_settings(), str(sample_issue_path), ["editor@example.org"])
    (message,) = outbox(tmp_path / "outbox")
    body = message.get_body(("html",))
    assert body is not None
    html = body.get_content()
    links = {}
    for purpose in ("unsubscribe", "preferences"):
        found = re.search(rf'href="https://news\.example\.org(/{purpose}/[^"]+)"', html)
        assert found, purpose
        links[purpose] = found.group(1)
    header = re.search(r"https://news\.example\.org(/unsubscribe/[^>]+)>",
                       str(message["List-Unsubscribe"]))
    assert header and header.group(1) == links["unsubscribe"]
    return links




@pytest.mark.parametrize("purpose", ["unsubscribe", "preferences"])
def test_test_message_links_say_so(
    client: TestClient, sample_issue_path: Path, tmp_path: Path, purpose: str
) -> None:
    """GET on a test message's link is a 200 page saying it is a test message."""
    link = links_of_a_test_message(sample_issue_path, tmp_path)[purpose]
    page = client.get(link)
    assert page.status_code == 200
    assert "这是一封测试邮件" in page.text and "This is a test message" in page.text
    assert "not valid" not in page.text
    assert page.headers["cache-control"] == "no-store"


def test_one_click_on_a_test_message_changes_nobody(
    client: TestClient, sample_issue_path: Path, tmp_path: Path
) -> None:
    """The RFC 8058 one-click POST of a test message answers the test page; readers stay."""
    readers = subscribe(os.environ["NEWSLETTER_DATABASE_URL"], 3)
    link = links_of_a_test_message(sample_issue_path, tmp_path)["unsubscribe"]
    page = client.post(link, data={"List-Unsubscribe": "One-Click"})
    assert page.status_code == 200 and "This is a test message" in page.text
    db = open_database(os.environ["NEWSLETTER_DATABASE_URL"])
    try:
        store = SubscriberStore(db)
        assert [store.get(r.id).status for r in readers] == ["active"] * 3  # type: ignore[union-attr]
    finally:
        db.close()


def test_other_links_keep_their_own_pages(client: TestClient) -> None:
    """A forged or unknown-subscriber link is still "not valid"; the test page is not a bypass."""
    forged = client.get("/unsubscribe/" + "A" * 40)
    assert forged.status_code == 400 and "This is a test message" not in forged.text
    unknown = make_token(TEST_SECRET, Purpose.PREFERENCES, 12345)
    page = client.get(f"/preferences/{unknown}")
    assert page.status_code == 400 and "This is a test message" not in page.text
    # A test token for the other purpose is not a test link for this one.
    other = make_token(TEST_SECRET, Purpose.UNSUBSCRIBE, 16**12 - 1)
    assert "This is a test message" not in client.get(f"/preferences/{other}").text
