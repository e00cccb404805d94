"""POST /api/v1/subscribe (issue 22): sign-ups from pages on NEWSLETTER_EMBED_ORIGINS only,
through the same path as the site's form (double opt-in, honeypot, limits, one answer)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient
from support.clock import FakeClock
from support.delivery import outbox

from newsletter.api.embed import snippet
from newsletter.errors import ConfigurationError
from newsletter.settings import get_settings
from newsletter.store.db import Database, open_database
from newsletter.store.subscribers import SubscriberStore
from newsletter.transports.outbox import OutboxTransport
from newsletter.web.app import create_app
from newsletter.web.ratelimit import RateLimiter

START = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)
BLOG = "https://blog.example.org"
JSON = {"Accept": "application/json"}


@pytest.fixture
def db(monkeypatch: pytest.MonkeyPatch) -> Iterator[Database]:
    monkeypatch.setenv("NEWSLETTER_EMBED_ORIGINS", f"{BLOG}, https://lab.example.edu:8443/")
    db = open_database(get_settings().database_url)
    yield db
    db.close()


def make_client(db: Database, tmp_path: Path, limit: int = 10) -> TestClient:
    app = create_app(get_settings(), db=db, transport=OutboxTransport(tmp_path / "outbox"),
                     clock=FakeClock(START), limiter=RateLimiter(limit, 600))
    return TestClient(app)


@pytest.fixture
def client(db: Database, tmp_path: Path) -> Iterator[TestClient]:
    with make_client(db, tmp_path) as client:
        yield client


def settle(client: TestClient) -> None:
    assert client.app.state.signups.wait_idle()  # type: ignore[attr-defined]


def post(client: TestClient, origin: str | None, **data: str) -> Any:
    headers = {**JSON, **({"Origin": origin} if origin else {})}
    return client.post("/api/v1/subscribe", data=data, headers=headers)


def test_a_listed_origin_signs_up_with_cors_for_it_alone(
    client: TestClient, db: Database, tmp_path: Path,
) -> None:
    response = post(client, BLOG, email="reader@example.org")
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "pending"
    assert response.headers["access-control-allow-origin"] == BLOG
    assert "Origin" in response.headers["vary"]
    settle(client)
    [confirmation] = outbox(tmp_path / "outbox")
    assert confirmation["To"] == "reader@example.org"
    reader = SubscriberStore(db).find("reader@example.org")
    assert reader is not None and reader.status == "pending"
    # The other listed origin, configured with a port and a trailing slash, matches too.
    assert post(client, "https://lab.example.edu:8443", email="two@example.org"
                ).status_code == 202


@pytest.mark.parametrize("origin", [None, "https://evil.example.com", "http://blog.example.org",
                                    "https://blog.example.org.evil.example.com", "null"])
def test_any_other_origin_is_refused_and_nothing_is_done(
    client: TestClient, db: Database, tmp_path: Path, origin: str | None,
) -> None:
    response = post(client, origin, email="victim@example.org")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "origin_not_allowed"
    assert "access-control-allow-origin" not in response.headers
    settle(client)
    assert outbox(tmp_path / "outbox") == []
    assert SubscriberStore(db).find("victim@example.org") is None


def test_preflight_is_answered_for_listed_origins_only(client: TestClient) -> None:
    ask = {"Access-Control-Request-Method": "POST",
           "Access-Control-Request-Headers": "content-type"}
    allowed = client.options("/api/v1/subscribe", headers={**ask, "Origin": BLOG})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == BLOG
    assert "POST" in allowed.headers["access-control-allow-methods"]
    refused = client.options("/api/v1/subscribe",
                             headers={**ask, "Origin": "https://evil.example.com"})
    assert refused.status_code == 400
    assert "access-control-allow-origin" not in refused.headers


@pytest.mark.slow
def test_known_unknown_and_suppressed_addresses_get_one_answer(
    client: TestClient, db: Database, tmp_path: Path,
) -> None:
    store = SubscriberStore(db)
    store.add("active@example.org", status="active")
    store.suppress("blocked@example.org", "complained")
    answers = []
    for address in ("new@example.org", "active@example.org", "blocked@example.org",
                    "new@example.org"):  # the last: a repeat inside ten minutes
        response = client.post("/api/v1/subscribe", json={"email": address, "language": "zh"},
                               headers={"Origin": BLOG})
        answers.append((response.status_code, response.json()))
    assert len(set(map(repr, answers))) == 1, answers
    settle(client)
    assert [m["To"] for m in outbox(tmp_path / "outbox")] == ["new@example.org"]


def test_the_honeypot_gets_the_same_answer_and_nothing_is_done(
    client: TestClient, db: Database, tmp_path: Path,
) -> None:
    bot = post(client, BLOG, email="bot@example.org", website="http://spam.example")
    human = post(client, BLOG, email="human@example.org")
    assert (bot.status_code, bot.json()) == (human.status_code, human.json())
    settle(client)
    assert [m["To"] for m in outbox(tmp_path / "outbox")] == ["human@example.org"]
    assert SubscriberStore(db).find("bot@example.org") is None


def test_a_form_post_without_javascript_gets_the_sites_page(client: TestClient) -> None:
    response = client.post("/api/v1/subscribe", headers={"Origin": BLOG},
                           data={"email": "plain@example.org", "language": "en"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    bad = client.post("/api/v1/subscribe", headers={"Origin": BLOG},
                      data={"email": "not an address"})
    assert bad.status_code == 400 and 'name="email"' in bad.text  # the site's form, to fix it


def test_bad_input_gets_a_clear_error(client: TestClient) -> None:
    bad = post(client, BLOG, email="not an address")
    assert bad.status_code == 422 and bad.json()["error"]["message"].startswith("email:")
    unknown = post(client, BLOG, email="a@example.org", categories="ZZ")
    assert unknown.status_code == 422 and "ZZ" in unknown.json()["error"]["message"]
    broken = client.post("/api/v1/subscribe", content=b"{", headers={
        "Origin": BLOG, "Content-Type": "application/json"})
    assert broken.status_code == 400 and broken.json()["error"]["code"] == "invalid_json"


def test_the_per_client_limit_is_the_one_of_the_sites_form(db: Database, tmp_path: Path
                                                           ) -> None:
    with make_client(db, tmp_path, limit=2) as client:
        assert post(client, BLOG, email="a@example.org").status_code == 202
        page = client.get("/subscribe")
        token = page.text.split('name="form_token" value="')[1][:32]
        assert client.post("/subscribe", data={
            "form_token": token, "email": "b@example.org", "categories": ["LG"],
            "language": "both"}).status_code == 200
        limited = post(client, BLOG, email="c@example.org")
        assert limited.status_code == 429 and int(limited.headers["retry-after"]) > 0
        assert limited.json()["error"]["code"] == "rate_limited"


def test_origins_must_be_origins(monkeypatch: pytest.MonkeyPatch) -> None:
    for bad in ("blog.example.org", "https://blog.example.org/signup", "ftp://x.example"):
        monkeypatch.setenv("NEWSLETTER_EMBED_ORIGINS", bad)
        with pytest.raises(ConfigurationError, match="NEWSLETTER_EMBED_ORIGINS"):
            get_settings()
    monkeypatch.setenv("NEWSLETTER_EMBED_ORIGINS", '["https://A.example.org:444"]')
    assert get_settings().embed_origins == ["https://a.example.org:444"]


def test_the_snippet_posts_to_this_newsletter_with_a_honeypot() -> None:
    html = snippet('https://news.example.org/"x')
    assert 'action="https://news.example.org/&quot;x/api/v1/subscribe"' in html
    assert 'name="website"' in html and 'tabindex="-1"' in html
    assert 'name="email"' in html and "Accept" in html
