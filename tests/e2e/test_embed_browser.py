"""Done-when of issue 22, in a real browser: a static page on another loopback origin signs a
reader up through the README's snippet; a page on an origin not listed cannot; the reader
confirms and gets exactly one welcome email."""

from __future__ import annotations

import email
import email.policy
import re
import time
from email.message import EmailMessage
from http.server import SimpleHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
from support.env import WebServer
from support.loopback import LoopbackServer
from support.servers import serve

from newsletter.api.embed import snippet
from newsletter.store.db import Database, make_engine
from newsletter.store.subscribers import SubscriberStore

pytestmark = [pytest.mark.e2e, pytest.mark.browser]



def static_site(root: Path) -> LoopbackServer:
    """A plain static file server for ``root`` (the operator's blog)."""

    class Files(SimpleHTTPRequestHandler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, directory=str(root), **kwargs)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return LoopbackServer(Files).start()


def messages(outbox: Path) -> list[EmailMessage]:
    found = []
    for path in sorted(outbox.glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        found.append(message)
    return found


def text(message: EmailMessage) -> str:
    return str(message.get_body(("plain",)).get_content())  # type: ignore[union-attr]


def wait_for(outbox: Path, count: int) -> list[EmailMessage]:
    deadline = time.monotonic() + 20
    while len(found := messages(outbox)) < count:
        assert time.monotonic() < deadline, f"{len(found)} messages, not {count}"
        time.sleep(0.05)
    return found


def status_of(server: WebServer, address: str) -> str | None:
    db = Database(make_engine(server.database_url))
    try:
        found = SubscriberStore(db).find(address)
    finally:
        db.close()
    return None if found is None else found.status


def test_a_static_page_on_a_listed_origin_signs_up_and_an_unlisted_one_cannot(
    tmp_path: Path, browser: Any,
) -> None:
    site = tmp_path / "blog"
    site.mkdir()
    listed, unlisted = static_site(site), static_site(site)
    try:
        with serve(tmp_path, tmp_path / "serve.log", NEWSLETTER_EMBED_ORIGINS=listed.url
                   ) as server:
            (site / "index.html").write_text(
                "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
                f"<title>Our lab</title></head><body><h1>Our lab</h1>{snippet(server.url)}"
                "</body></html>", "utf-8")
            page = browser.new_page()
            page.goto(f"{listed.url}/index.html")
            page.fill("#nl-email", "reader@example.org")
            page.select_option("#nl-language", "en")
            page.click("button[type=submit]")
            page.wait_for_function(
                "document.querySelector('.nl-signup-status').textContent.length > 0")
            assert "Check your inbox" in page.inner_text(".nl-signup-status")
            assert page.url == f"{listed.url}/index.html"  # it stayed on the blog
            [confirmation] = wait_for(server.outbox, 1)
            assert confirmation["To"] == "reader@example.org"
            link = re.search(rf"{re.escape(server.url)}/confirm/\S+", text(confirmation))
            assert link, text(confirmation)

            # The same snippet on an origin the operator did not list: refused.
            other = browser.new_page()
            other.goto(f"{unlisted.url}/index.html")
            other.fill("#nl-email", "stranger@example.org")
            other.click("button[type=submit]")
            other.wait_for_function(
                "document.querySelector('.nl-signup-status').textContent.length > 0")
            assert "failed" in other.inner_text(".nl-signup-status")
            assert status_of(server, "stranger@example.org") is None

            # The reader confirms (the page with the button) and gets one welcome email.
            page.goto(link.group(0))
            page.click("button[type=submit]")
            page.wait_for_load_state()
            assert status_of(server, "reader@example.org") == "active"
            page.goto(link.group(0))
            page.click("button[type=submit]")  # confirming again changes nothing
            found = wait_for(server.outbox, 2)
            time.sleep(1.0)  # room for a second welcome, if there were one
            found = messages(server.outbox)
            assert len(found) == 2, [m["Subject"] for m in found]
            welcome = found[1] if "/confirm/" in text(found[0]) else found[0]
            assert welcome["To"] == "reader@example.org"
            assert welcome["Subject"].startswith("Welcome")
            assert [m["To"] for m in found].count("stranger@example.org") == 0
    finally:
        listed.stop()
        unlisted.stop()
