"""End to end: a real ``newsletter serve`` process driven over HTTP."""

from __future__ import annotations

import email
import email.policy
import re
import time
from email.message import EmailMessage
from pathlib import Path

import httpx
from support.env import WebServer

from newsletter.store.db import Database, make_engine
from newsletter.store.subscribers import SubscriberStore


def wait_for_message(outbox: Path, timeout: float = 15) -> EmailMessage:
    """The one message the outbox receives (sent after the response, so poll briefly)."""
    deadline = time.monotonic() + timeout
    while not (found := sorted(outbox.glob("*.eml"))):
        assert time.monotonic() < deadline, f"no message in {outbox}"
        time.sleep(0.05)
    [path] = found
    parsed = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def test_subscribe_confirm_and_one_click_unsubscribe(web_server: WebServer) -> None:
    """Sign up, follow the emailed link, then leave with an RFC 8058 one-click POST."""
    base = web_server.url
    with httpx.Client(base_url=base, timeout=10) as browser:
        form = browser.get("/subscribe")
        assert form.status_code == 200
        token = re.search(r'name="form_token" value="([0-9a-f]{32})"', form.text)
        assert token
        sent = browser.post(
            "/subscribe",
            data={
                "form_token": token.group(1),
                "email": "Reader@Example.org",
                "categories": ["LG", "CL"],
                "language": "en",
            },
        )
        assert sent.status_code == 200 and "Check your inbox" in sent.text

        message = wait_for_message(web_server.outbox)
        assert message["To"] == "reader@example.org"
        text = message.get_body(("plain",))
        assert text is not None
        link = re.search(rf"{re.escape(base)}/confirm/\S+", text.get_content())
        assert link, text.get_content()

        # The link shows a button; only pressing it (a POST) confirms.
        assert "Confirm" in browser.get(link.group(0)).text
        confirmed = browser.post(link.group(0))
        assert confirmed.status_code == 200 and "You are subscribed" in confirmed.text
        db = Database(make_engine(web_server.database_url))
        try:
            store = SubscriberStore(db)
            subscriber = store.find("reader@example.org")
            assert subscriber is not None and subscriber.status == "active"
            assert (subscriber.categories, subscriber.language) == ({"CL", "LG"}, "en")

            # The confirmed page links to the preferences page, which holds the unsubscribe link.
            preferences = re.search(rf'href="({re.escape(base)}/preferences/[^"]+)"',
                                    confirmed.text)
            assert preferences
            page = browser.get(preferences.group(1))
            unsubscribe = re.search(r'action="([^"]+/unsubscribe/[^"]+)"', page.text)
            assert unsubscribe
        finally:
            db.close()

    # A mail provider posts from its own servers: no cookies, no form token.
    one_click = httpx.post(
        unsubscribe.group(1),
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=10,
    )
    assert one_click.status_code == 200
    assert "set-cookie" not in one_click.headers
    db = Database(make_engine(web_server.database_url))
    try:
        after = SubscriberStore(db).find("reader@example.org")
        assert after is not None and after.status == "unsubscribed"
    finally:
        db.close()
