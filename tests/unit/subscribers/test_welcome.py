"""The welcome email (issue 22): once per reader, after confirming, in their language;
queued in the confirmation's transaction, so a crash before sending still sends it once."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from starlette.testclient import TestClient
from support.clock import FakeClock
from support.delivery import outbox
from typer.testing import CliRunner

from newsletter import wiring, wiring_api
from newsletter.cli.main import app as cli_app
from newsletter.errors import TransientTransportError
from newsletter.settings import get_settings
from newsletter.store.db import Database, open_database
from newsletter.store.subscribers import SubscriberStore
from newsletter.store.welcome import WelcomeStore
from newsletter.subscribers.choices import Choices
from newsletter.transports.outbox import OutboxTransport
from newsletter.web.app import create_app
from newsletter.web.ratelimit import RateLimiter

START = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def db() -> Iterator[Database]:
    db = open_database(get_settings().database_url)
    yield db
    db.close()


def text_of(message: EmailMessage) -> str:
    return str(message.get_body(("plain",)).get_content())  # type: ignore[union-attr]


def confirm_path(message: EmailMessage) -> str:
    found = re.search(r"https://news\.example\.org(/confirm/\S+)", text_of(message))
    assert found, text_of(message)
    return found.group(1)


def welcomes(box: Path) -> list[EmailMessage]:
    return [m for m in outbox(box) if "/confirm/" not in text_of(m)]


def sign_up(client: TestClient, address: str, language: str = "both") -> None:
    page = client.get("/subscribe").text
    token = re.search(r'name="form_token" value="([0-9a-f]{32})"', page)
    assert token
    response = client.post("/subscribe", data={
        "form_token": token.group(1), "email": address, "categories": ["LG"],
        "language": language,
    })
    assert response.status_code == 200
    assert client.app.state.signups.wait_idle()  # type: ignore[attr-defined]


def test_confirming_twice_through_the_web_sends_one_welcome_in_the_readers_language(
    db: Database, tmp_path: Path,
) -> None:
    box = tmp_path / "outbox"
    app = create_app(get_settings(), db=db, transport=OutboxTransport(box),
                     clock=FakeClock(START), limiter=RateLimiter(10, 600))
    with TestClient(app) as client:
        sign_up(client, "reader@example.org", language="en")
        [confirmation] = outbox(box)
        path = confirm_path(confirmation)
        assert client.post(path).status_code == 200
        assert client.post(path).status_code == 200  # repeated: idempotent
    [welcome] = welcomes(box)
    assert welcome["To"] == "reader@example.org"
    assert welcome["Subject"].startswith("Welcome to ")
    assert welcome["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text = text_of(welcome)
    assert "Your subscription is confirmed" in text
    assert "订阅" not in text  # an English reader gets English only
    assert "https://news.example.org/archive/" in text
    assert re.search(r"https://news\.example\.org/preferences/\S+", text)
    assert re.search(r"https://news\.example\.org/unsubscribe/\S+", text)
    assert "Latest issue" not in text  # nothing was sent yet: no link to a missing issue
    html = welcome.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert 'lang="en"' in html and "/preferences/" in html
    # The preferences link in it works.
    preferences = re.search(r"https://news\.example\.org(/preferences/\S+)", text)
    assert preferences
    with TestClient(app) as client:
        assert client.get(preferences.group(1)).status_code == 200


def confirmed_without_sending(db: Database, address: str, language: str = "zh") -> int:
    """Sign up and confirm through the workflow alone: the process "dies" before the send."""
    settings = get_settings()
    store = SubscriberStore(db)
    box = settings.outbox_dir
    subs = wiring.subscriptions(settings, store, OutboxTransport(box))
    subs.subscribe(address, Choices(frozenset(), language))  # type: ignore[arg-type]
    [confirmation] = [m for m in outbox(box) if m["To"] == address]
    subs.confirm(confirm_path(confirmation).rsplit("/", 1)[1])
    reader = store.find(address)
    assert reader is not None and reader.status == "active"
    return reader.id


def test_a_crash_between_confirm_and_send_still_sends_it_once_from_the_worker(
    db: Database,
) -> None:
    reader = confirmed_without_sending(db, "crash@example.org", language="zh")
    assert WelcomeStore(db).status(reader) == "queued"
    box = get_settings().outbox_dir
    assert welcomes(box) == []
    for _ in range(2):  # two worker runs: the second finds nothing to send
        result = CliRunner().invoke(cli_app, ["worker", "--once"])
        assert result.exit_code == 0, result.output
    [welcome] = welcomes(box)
    assert welcome["To"] == "crash@example.org"
    assert "你的订阅已确认" in text_of(welcome)
    assert "Your subscription" not in text_of(welcome)
    assert WelcomeStore(db).status(reader) == "sent"


def test_two_senders_at_once_send_one(db: Database) -> None:
    reader = confirmed_without_sending(db, "race@example.org")
    settings = get_settings()
    first = wiring_api.welcomes(settings, db)
    second = wiring_api.welcomes(settings, db)
    assert first.outbox.claim(reader)
    assert second.send(reader) == "taken"
    assert second.drain() == 0
    first.outbox.release(reader, "test")
    assert first.send(reader) == "sent"
    assert len(welcomes(settings.outbox_dir)) == 1


class FailingOnce:
    name = "failing"

    def __init__(self, box: Path) -> None:
        self.real = OutboxTransport(box)
        self.failed = False

    def send(self, raw: bytes, to: str) -> str:
        if not self.failed:
            self.failed = True
            raise TransientTransportError("SES is having a moment")
        return self.real.send(raw, to)


def test_a_refused_send_is_retried_by_the_next_drain(db: Database) -> None:
    reader = confirmed_without_sending(db, "retry@example.org")
    settings = get_settings()
    sending = wiring_api.welcomes(settings, db, FailingOnce(settings.outbox_dir))
    assert sending.drain() == 0
    assert WelcomeStore(db).status(reader) == "queued"
    assert sending.drain() == 1
    assert len(welcomes(settings.outbox_dir)) == 1


def test_a_reader_who_left_before_it_went_out_gets_none(db: Database) -> None:
    reader = confirmed_without_sending(db, "gone@example.org")
    SubscriberStore(db).set_status(reader, "unsubscribed", "changed their mind")
    assert wiring_api.welcomes(get_settings(), db).drain() == 0
    assert WelcomeStore(db).status(reader) == "skipped"
    assert welcomes(get_settings().outbox_dir) == []


def test_resubscribing_later_does_not_send_a_second_welcome(db: Database) -> None:
    store = SubscriberStore(db)
    reader = confirmed_without_sending(db, "again@example.org")
    assert wiring_api.welcomes(get_settings(), db).drain() == 1
    store.set_status(reader, "unsubscribed", "one-click")
    store.set_status(reader, "active", "confirmed by email link", welcome=True)
    assert wiring_api.welcomes(get_settings(), db).drain() == 0
    assert len(welcomes(get_settings().outbox_dir)) == 1


def test_the_setting_turns_it_off(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSLETTER_WELCOME_EMAIL", "false")
    reader = confirmed_without_sending(db, "quiet@example.org")
    assert WelcomeStore(db).status(reader) is None
    assert wiring_api.welcomes(get_settings(), db).drain() == 0


def test_it_links_the_latest_issue_once_one_was_sent(db: Database) -> None:
    settings = get_settings()
    reader = confirmed_without_sending(db, "late@example.org", language="both")
    sending = wiring_api.welcomes(settings, db)
    sending.latest_issue = lambda: "2026-02-28"
    assert sending.drain() == 1
    [welcome] = welcomes(settings.outbox_dir)
    text = text_of(welcome)
    assert "https://news.example.org/issues/2026-02-28" in text
    assert "最新一期" in text and "Latest issue" in text
    assert reader
