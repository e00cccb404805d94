"""What the reader's pages say: true for every address, in both languages, with a way onward."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from starlette.testclient import TestClient
from support.clock import FakeClock
from support.delivery import outbox

from newsletter.settings import get_settings
from newsletter.store.db import Database, open_database
from newsletter.store.subscribers import SubscriberStore
from newsletter.transports.outbox import OutboxTransport
from newsletter.web.app import create_app
from newsletter.web.ratelimit import RateLimiter

START = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)
FULL_WIDTH = "，。：；！？"


@dataclass
class Site:
    client: TestClient
    store: SubscriberStore
    clock: FakeClock
    outbox: Path

    def form_token(self) -> str:
        found = re.search(r'name="form_token" value="([0-9a-f]{32})"',
                          self.client.get("/subscribe").text)
        assert found
        return found.group(1)

    def post(self, address: str, **extra: object) -> tuple[int, str]:
        data: dict[str, object] = {"form_token": self.form_token(), "email": address,
                                   "categories": ["LG", "CV"], "language": "both"}
        data.update(extra)
        response = self.client.post("/subscribe", data=data)
        assert self.client.app.state.signups.wait_idle()  # type: ignore[attr-defined]
        return response.status_code, response.text

    def sent_to(self) -> list[str]:
        return sorted(str(m["To"]) for m in outbox(self.outbox))


@pytest.fixture
def db() -> Iterator[Database]:
    db = open_database(get_settings().database_url)
    yield db
    db.close()


@pytest.fixture
def make_site(tmp_path: Path, db: Database) -> Iterator[Callable[[], Site]]:
    clients: list[TestClient] = []

    def make() -> Site:
        clock = FakeClock(START)
        app = create_app(get_settings(), db=db, transport=OutboxTransport(tmp_path / "outbox"),
                         clock=clock, limiter=RateLimiter(100, 600, clock=clock.seconds))
        client = TestClient(app, follow_redirects=False)
        client.__enter__()
        clients.append(client)
        return Site(client, SubscriberStore(db, clock=clock), clock, tmp_path / "outbox")

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def site(make_site: Callable[[], Site]) -> Site:
    return make_site()


def visible_text(page: str) -> str:
    """The text of the page's main element (or of a fragment), tags left out."""
    if '<main id="main">' in page:
        page = page.split('<main id="main">', 1)[1].split("</main>", 1)[0]
    return " ".join(re.sub(r"<[^>]+>", " ", page).split())


def chinese_parts(text: str) -> list[str]:
    """Runs of text that contain CJK characters (with the punctuation around them)."""
    return re.findall(r"[^A-Za-z<>]*[\u4e00-\u9fff][^A-Za-z<>]*", text)


# -- the page after a sign-up -------------------------------------------------------------


def test_a_throttled_sign_up_is_not_told_an_email_was_just_sent(site: Site) -> None:
    """Signing up again within 10 minutes sends nothing, and the page does not claim it just
    sent one: it says an email is on its way or was sent in the last few minutes."""
    _, first = site.post("reader@example.org")
    site.clock.advance(minutes=3)
    status, again = site.post("reader@example.org")
    assert status == 200 and site.sent_to() == ["reader@example.org"]
    text = visible_text(again)
    assert "just sent" not in text and "刚刚" not in text
    assert "in the last few minutes" in text and "spam" in text
    assert "几分钟内" in text and "垃圾邮件" in text
    assert again == first


@pytest.mark.slow
def test_every_address_gets_the_same_words_after_signing_up(site: Site) -> None:
    """Unknown, pending, throttled, active and suppressed addresses (and a bot) all get the
    very same page, so it cannot tell which addresses are known."""
    site.store.add("active@example.org", status="active", categories={"LG"}, language="zh")
    site.store.suppress("blocked@example.org", "manual", "test")
    site.store.add("waiting@example.org", status="pending", categories={"LG"}, language="zh")
    site.post("throttled@example.org")
    pages = {
        address: site.post(address)
        for address in ("new@example.org", "waiting@example.org", "throttled@example.org",
                        "active@example.org", "blocked@example.org")
    }
    pages["bot"] = site.post("bot@example.org", website="https://spam.example")
    assert {status for status, _ in pages.values()} == {200}
    assert len({page for _, page in pages.values()}) == 1
    assert "in the last few minutes" in visible_text(pages["new@example.org"][1])
    assert site.sent_to() == ["new@example.org", "throttled@example.org",
                              "waiting@example.org"]


# -- the sign-up form's errors ------------------------------------------------------------


def test_the_error_summary_is_chinese_then_english(site: Site) -> None:
    """Each problem in the summary is said in Chinese (full-width punctuation), then English."""
    status, page = site.post("reader@", categories=[], language="both")
    assert status == 400
    summary = page.split('id="error-summary"', 1)[1].split("</div>", 1)[0]
    items = re.findall(r"<li>(.*?)</li>", summary, re.S)
    assert len(items) == 2
    for item in items:
        zh, en = item.split('<span lang="en">', 1)
        assert re.search(r"[\u4e00-\u9fff]", zh), item
        assert not re.search(r"[A-Za-z]{3,}", re.sub(r"<[^>]+>", "", zh)), item
        assert re.search(r"[A-Za-z]{3,}", en), item
    assert "请至少选择一个分类" in summary and "Choose at least one category" in summary
    for part in chinese_parts(visible_text(summary)):
        assert not re.search(r"[\u4e00-\u9fff][,.:;!?]", part), part
        assert any(mark in part for mark in FULL_WIDTH), part


def test_an_unknown_category_is_named_as_such_in_chinese(site: Site) -> None:
    """A category no issue describes is reported as unknown in both languages (not as
    "choose at least one category")."""
    status, page = site.post("reader@example.org", categories=["LG", "ZZ"])
    assert status == 400
    text = visible_text(page)
    assert "请至少选择一个分类" not in text
    assert "没有这个分类：ZZ" in text and "Unknown categories: ZZ" in text
    assert site.store.find("reader@example.org") is None


def test_an_expired_form_says_so_in_chinese_then_english(site: Site) -> None:
    """A post without a valid form token is told, in both languages, to submit it again."""
    site.client.get("/subscribe")
    response = site.client.post("/subscribe", data={
        "form_token": "0" * 32, "email": "reader@example.org", "categories": ["LG"],
        "language": "both",
    })
    assert response.status_code == 400
    text = visible_text(response.text)
    assert "这个表单已过期，请再提交一次。" in text and "This form has expired" in text


# -- links to the archive and the feed ----------------------------------------------------


def archive_and_feed_links(page: str) -> set[str]:
    return {h for h in re.findall(r'href="([^"]*)"', page)
            if h.endswith(("/archive/", "/feed.xml"))}


def test_the_subscribe_page_links_to_the_archive_and_the_feed(site: Site) -> None:
    """/subscribe links to /archive/ and /feed.xml, and announces the feed to readers."""
    page = site.client.get("/subscribe").text
    assert archive_and_feed_links(page) == {"/archive/", "/feed.xml"}
    assert re.search(r'<link rel="alternate" type="application/atom\+xml"[^>]*'
                     r'href="/feed.xml"', page)
    for link in ("/archive/", "/feed.xml"):
        assert site.client.get(link).status_code == 200


def test_the_result_pages_link_to_the_archive_and_the_feed(site: Site) -> None:
    """The page after a sign-up and the "subscribed" page after confirming link to both."""
    _, sent = site.post("reader@example.org")
    assert archive_and_feed_links(sent) == {"/archive/", "/feed.xml"}
    [message] = outbox(site.outbox)
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    link = re.search(r"https://news\.example\.org(/confirm/\S+)", text)
    assert link
    subscribed = site.client.post(link.group(1))
    assert subscribed.status_code == 200 and "订阅成功" in subscribed.text
    assert archive_and_feed_links(subscribed.text) == {"/archive/", "/feed.xml"}
    assert "/preferences/" in subscribed.text


def test_archive_and_feed_links_carry_the_base_path(
    make_site: Callable[[], Site], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under a base URL with a path (/news) the links carry it and answer."""
    monkeypatch.setenv("NEWSLETTER_BASE_URL", "https://example.org/news")
    site = make_site()
    page = site.client.get("/news/subscribe").text
    assert archive_and_feed_links(page) == {"/news/archive/", "/news/feed.xml"}
    for link in ("/news/archive/", "/news/feed.xml"):
        assert site.client.get(link).status_code == 200
