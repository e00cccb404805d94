"""The desk in tests: an app with editors configured, and signing in through the outbox."""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from starlette.testclient import TestClient

from newsletter.settings import Settings
from newsletter.store.db import Database
from newsletter.transports.outbox import OutboxTransport
from newsletter.web.app import create_app
from support.clock import FakeClock

EDITOR = "editor@example.org"
BASE = "https://news.example.org"
_FORM_TOKEN = re.compile(r'name="form_token" value="([0-9a-f]{32})"')
_CSRF = re.compile(r'name="csrf" value="([0-9a-f]{64})"')
_LINK = re.compile(re.escape(BASE) + r"(/admin/sign-in/[A-Za-z0-9_-]+)")


@dataclass
class DeskSite:
    client: TestClient
    outbox: Path
    clock: FakeClock
    db: Database

    def sign_in_links(self, to: str = EDITOR) -> list[str]:
        """The paths of the sign-in links mailed to ``to``, oldest first."""
        found = []
        for path in sorted(self.outbox.glob("*.eml"), key=lambda p: p.stat().st_mtime_ns):
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            if message["To"] == to and "sign-in" in str(message["Subject"]).lower():
                body = message.get_body(("plain",))
                assert body is not None
                found += _LINK.findall(body.get_content())
        return found

    def ask_for_link(self, address: str = EDITOR) -> None:
        page = self.client.get("/admin/sign-in")
        token = form_token(page.text)
        answer = self.client.post("/admin/sign-in", data={"form_token": token, "email": address})
        assert answer.status_code == 200, answer.text

    def sign_in(self, address: str = EDITOR) -> str:
        """Sign in through the emailed link; the CSRF token of the new session."""
        self.ask_for_link(address)
        link = self.sign_in_links(address)[-1]
        page = self.client.get(link)
        assert page.status_code == 200, page.text
        done = self.client.post(link, data={"form_token": form_token(page.text)})
        assert done.status_code == 303, done.text
        home = self.client.get("/admin/")
        assert home.status_code == 200
        return csrf_of(home.text)


def form_token(html: str) -> str:
    found = _FORM_TOKEN.search(html)
    assert found, html
    return found.group(1)


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found, html
    return found.group(1)


@contextmanager
def desk_site(settings: Settings, db: Database, outbox: Path,
              editors: tuple[str, ...] = (EDITOR,)) -> Iterator[DeskSite]:
    """The whole web app with ``editors`` allowed on the desk, mail going to ``outbox``."""
    clock = FakeClock()
    configured = settings.model_copy(update={"editors": list(editors)})
    app = create_app(configured, db=db, transport=OutboxTransport(outbox), clock=clock)
    with TestClient(app, base_url=BASE, follow_redirects=False) as client:
        yield DeskSite(client, outbox, clock, db)
