"""Headless Chromium fills in the subscribe form and the preferences page of a real server."""

from __future__ import annotations

import email
import email.policy
import re
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from support.env import WebServer

from newsletter.model.subscribers import Subscriber
from newsletter.store.db import Database, make_engine
from newsletter.store.subscribers import SubscriberStore

pytestmark = pytest.mark.browser

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def page(chromium_path: str) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            yield browser.new_page()
        finally:
            browser.close()


def confirmation_link(outbox: Path, base: str) -> str:
    deadline = time.monotonic() + 15
    while not (found := sorted(outbox.glob("*.eml"))):
        assert time.monotonic() < deadline, "no confirmation message"
        time.sleep(0.05)
    message = email.message_from_bytes(found[0].read_bytes(), policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    body = message.get_body(("plain",))
    assert body is not None
    match = re.search(rf"{re.escape(base)}/confirm/\S+", body.get_content())
    assert match
    return match.group(0)


def subscriber(database_url: str, address: str) -> Subscriber:
    db = Database(make_engine(database_url))
    try:
        found = SubscriberStore(db).find(address)
    finally:
        db.close()
    assert found is not None
    return found


def test_subscribe_form_and_preferences_page_in_a_browser(
    web_server: WebServer, page: object
) -> None:
    """A reader signs up, confirms, and changes preferences using only labelled controls."""
    from playwright.sync_api import Page, expect

    assert isinstance(page, Page)
    page.goto(f"{web_server.url}/subscribe")
    # Controls are found by their labels: this fails if a label is not tied to its input.
    page.get_by_label("Email address").fill("browser.reader@example.org")
    page.get_by_label("Computer Vision").uncheck()
    page.get_by_label("Robotics").uncheck()
    page.get_by_label("中文 · Chinese", exact=True).check()
    page.get_by_role("button", name="Subscribe").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Check your inbox")

    # The sign-up is processed after the response; the message arriving means it is done.
    link = confirmation_link(web_server.outbox, web_server.url)
    pending = subscriber(web_server.database_url, "browser.reader@example.org")
    assert pending.status == "pending"
    assert (pending.categories, pending.language) == ({"LG", "CL", "AS"}, "zh")

    page.goto(link)
    page.get_by_role("button", name=re.compile("Confirm")).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("You are subscribed")
    page.get_by_role("link", name=re.compile("Preferences")).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Subscription preferences")
    expect(page.get_by_label("Machine Learning")).to_be_checked()
    expect(page.get_by_label("Robotics")).not_to_be_checked()

    page.get_by_label("Robotics").check()
    page.get_by_label("Machine Learning").uncheck()
    page.get_by_label("英文 · English", exact=True).check()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_contain_text("saved")

    saved = subscriber(web_server.database_url, "browser.reader@example.org")
    assert (saved.status, saved.categories, saved.language) == (
        "active", {"CL", "AS", "RO"}, "en"
    )
