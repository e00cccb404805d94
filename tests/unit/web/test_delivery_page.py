"""The reader's delivery page (issue 21): frequency, papers per email and follows, behind
the signed preferences link and the form token."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient
from support.clock import FakeClock
from support.env import TEST_SECRET

from newsletter.model.editions import ReaderPreferences, parse_preferences
from newsletter.model.subscribers import Subscriber
from newsletter.settings import get_settings
from newsletter.store.db import Database, open_database
from newsletter.store.editions import PreferenceStore
from newsletter.store.subscribers import SubscriberStore
from newsletter.tokens import Purpose, make_token
from newsletter.transports.outbox import OutboxTransport
from newsletter.web.app import create_app

START = dt.datetime(2026, 12, 7, 9, 0, tzinfo=dt.UTC)  # a Monday


@pytest.fixture
def db() -> Iterator[Database]:
    opened = open_database(get_settings().database_url)
    yield opened
    opened.close()


@pytest.fixture
def client(db: Database, tmp_path: Path) -> Iterator[TestClient]:
    app = create_app(get_settings(), db=db, transport=OutboxTransport(tmp_path / "outbox"),
                     clock=FakeClock(START))
    with TestClient(app, follow_redirects=False) as made:
        yield made


def _reader(db: Database) -> tuple[Subscriber, str]:
    reader = SubscriberStore(db).add("reader@example.org", status="active")
    token = make_token(TEST_SECRET, Purpose.PREFERENCES, reader.id, now=START.timestamp())
    return reader, f"/preferences/{token}/delivery"


def _form_token(html: str) -> str:
    found = re.search(r'name="form_token" value="([0-9a-f]{32})"', html)
    assert found, html
    return found.group(1)


def test_the_reader_saves_a_pause_a_limit_and_follows(client: TestClient, db: Database) -> None:
    """The preferences page links to the delivery page; it shows the defaults, and a post
    with the form token saves what was chosen and shows it again."""
    reader, path = _reader(db)
    assert f'href="{path}"' in client.get(path.removesuffix("/delivery")).text
    page = client.get(path)
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    assert re.search(r'value="daily" id="freq-daily" checked', page.text)
    assert "r***@example.org" in page.text
    saved = client.post(path, data={
        "form_token": _form_token(page.text), "frequency": "paused", "until": "2026-12-09",
        "weekday": "MON", "max_papers": "3", "keywords": "扩散模型\n diffusion ",
        "authors": "Kaiming He", "affiliations": "Tsinghua University"})
    assert saved.status_code == 200 and 'role="status"' in saved.text
    assert re.search(r'value="paused" id="freq-paused" checked', saved.text)
    assert PreferenceStore(db).get(reader.id) == parse_preferences(
        "paused:2026-12-09", "3",
        "扩散模型; diffusion; author:Kaiming He; affiliation:Tsinghua University")


def test_bad_posts_change_nothing_and_say_why(client: TestClient, db: Database) -> None:
    """No form token, a pause ending in the past, an unknown limit, a follow with ';' or a
    wrong kind of link: 400, the problem named, nothing saved, the input escaped."""
    reader, path = _reader(db)
    token = _form_token(client.get(path).text)
    base = {"form_token": token, "frequency": "daily", "weekday": "MON", "until": "",
            "max_papers": "", "keywords": "", "authors": "", "affiliations": ""}
    no_token = client.post(path, data={**base, "form_token": ""})
    past = client.post(path, data={**base, "frequency": "paused", "until": "2026-12-01"})
    limit = client.post(path, data={**base, "max_papers": "4"})
    follow = client.post(path, data={**base, "authors": "<b>a;b</b>"})
    wrong = client.post(path.replace(path.split("/")[2], make_token(
        TEST_SECRET, Purpose.UNSUBSCRIBE, reader.id)), data=base)
    for answer in (no_token, past, limit, follow, wrong):
        assert answer.status_code == 400
    assert "after today" in past.text and 'id="until-error"' in past.text
    assert 'id="max_papers-error"' in limit.text
    assert "&lt;b&gt;a;b&lt;/b&gt;" in follow.text and "<b>a;b" not in follow.text
    assert PreferenceStore(db).get(reader.id) == ReaderPreferences()


def test_a_pause_that_ended_shows_as_daily(client: TestClient, db: Database) -> None:
    """A pause that ended yesterday is shown as daily (what the reader gets now), so saving
    the page again is not refused for a date in the past."""
    reader, path = _reader(db)
    PreferenceStore(db).set(reader.id, parse_preferences("paused:2026-12-06", "5", ""))
    page = client.get(path)
    assert re.search(r'value="daily" id="freq-daily" checked', page.text)
    assert re.search(r'value="5" id="max-5" checked', page.text)
