"""While the database is down, /healthz says so and the archive answers 503 with
Retry-After instead of a 500 (issue #24, "Also")."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from starlette.testclient import TestClient
from support.archive import campaign, write_issue
from support.tcp_cut import Forwarder

from newsletter.settings import get_settings
from newsletter.store.db import open_database
from newsletter.web.app import create_app


class Clock:
    """Noon in Shanghai on 2022-09-10; ``advance`` moves past the archive's recheck."""

    def __init__(self) -> None:
        self.at = dt.datetime(2022, 9, 10, 4, 0, tzinfo=dt.UTC)

    def now(self) -> dt.datetime:
        return self.at

    def advance(self) -> None:
        self.at += dt.timedelta(hours=1)


CLOCK = Clock()


@pytest.fixture
def site(
    tmp_path: Path, migrated_postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[TestClient, Forwarder]]:
    issues = tmp_path / "issues"
    write_issue(issues, "2022-09-07")
    campaign(migrated_postgres_url, "2022-09-07", "done")
    monkeypatch.setenv("NEWSLETTER_ISSUES_DIR", str(issues))
    target = urlsplit(migrated_postgres_url)
    forwarder = Forwarder((target.hostname or "127.0.0.1", target.port or 5432))
    db = open_database(forwarder.url_for(migrated_postgres_url), timeout=2, lock_timeout=2)
    app = create_app(get_settings(), db=db, clock=CLOCK.now)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, forwarder
    forwarder.cut()
    db.close()


def test_healthz_checks_the_database(site: tuple[TestClient, Forwarder]) -> None:
    """ok while the database answers; 503 with Retry-After, within seconds, once it is down."""
    client, forwarder = site
    up = client.get("/healthz")
    assert (up.status_code, up.text) == (200, "ok")
    forwarder.cut()
    started = time.monotonic()
    down = client.get("/healthz")
    assert down.status_code == 503
    assert down.headers["retry-after"].isdigit()
    assert "database" in down.text
    assert time.monotonic() - started < 10


@pytest.mark.parametrize("path", ["/archive/", "/feed.xml", "/feeds/CV.xml",
                                  "/issues/2022-09-07"])
def test_the_archive_answers_503_while_the_database_is_down(
    site: tuple[TestClient, Forwarder], path: str
) -> None:
    """The archive and feeds need the campaigns; without them: 503 + Retry-After, no 500."""
    client, forwarder = site
    assert client.get(path).status_code == 200
    forwarder.cut()
    CLOCK.advance()  # past the minute the archive keeps what it read
    response = client.get(path)
    assert response.status_code == 503, response.text[:300]
    assert response.headers["retry-after"].isdigit()
