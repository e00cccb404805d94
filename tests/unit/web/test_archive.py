"""The public archive through the web app: what is published, the pages, the feeds."""

from __future__ import annotations

import datetime as dt
import html
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import feedparser
import pytest
from starlette.testclient import TestClient
from support.archive import campaign, write_issue

from newsletter.issues.loader import load_issue
from newsletter.rendering.renderer import Renderer
from newsletter.settings import get_settings
from newsletter.vocabulary import Variant
from newsletter.web.app import create_app

# Noon in Shanghai on 2022-09-10: the 7th to the 9th have passed, the 10th is today.
NOW = dt.datetime(2022, 9, 10, 4, 0, tzinfo=dt.UTC)
MakeClient = Callable[..., TestClient]


@pytest.fixture
def issues(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "issues"
    monkeypatch.setenv("NEWSLETTER_ISSUES_DIR", str(folder))
    return folder


@pytest.fixture
def make_client(issues: Path) -> Iterator[MakeClient]:
    clients: list[TestClient] = []

    def make(now: dt.datetime | Callable[[], dt.datetime] = NOW, **overrides: object) -> TestClient:
        settings = get_settings().model_copy(update=overrides)
        clock = now if callable(now) else (lambda: now)
        client = TestClient(create_app(settings, clock=clock), follow_redirects=False)
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


def hrefs(page: str) -> list[str]:
    return [html.unescape(h) for h in re.findall(r'href="([^"]*)"', page)]


def local(url: str) -> str:
    """The path and query of a link to this site, for the test client."""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def db() -> str:
    return os.environ["NEWSLETTER_DATABASE_URL"]


@pytest.mark.slow
def test_only_sent_issues_are_public(issues: Path, make_client: MakeClient) -> None:
    """Done and partly sent campaigns publish; enqueued, unsent and future issues are 404."""
    for day in ("2022-09-06", "2022-09-07", "2022-09-08", "2022-09-09", "2022-09-11"):
        write_issue(issues, day)
    campaign(db(), "2022-09-06", "done")
    campaign(db(), "2022-09-07", "partly")
    campaign(db(), "2022-09-08", "enqueued")
    client = make_client()
    status = {day: client.get(f"/issues/{day}").status_code
              for day in ("2022-09-06", "2022-09-07", "2022-09-08", "2022-09-09", "2022-09-11")}
    assert status == {"2022-09-06": 200, "2022-09-07": 200, "2022-09-08": 404,
                      "2022-09-09": 404, "2022-09-11": 404}
    listed = re.findall(r'<time datetime="([\d-]+)">', client.get("/archive/").text)
    assert listed == ["2022-09-07", "2022-09-06"]


def test_archive_unsent_publishes_past_issues_only(issues: Path, make_client: MakeClient) -> None:
    """With NEWSLETTER_ARCHIVE_UNSENT past unsent issues are public; today's and future not."""
    for day in ("2022-09-08", "2022-09-09", "2022-09-10", "2022-09-11"):
        write_issue(issues, day)
    campaign(db(), "2022-09-08", "enqueued")
    client = make_client(archive_unsent=True)
    assert client.get("/issues/2022-09-08").status_code == 200
    assert client.get("/issues/2022-09-09").status_code == 200
    assert client.get("/issues/2022-09-10").status_code == 404  # today: not sent yet
    assert client.get("/issues/2022-09-11").status_code == 404
    tomorrow = make_client(now=NOW + dt.timedelta(days=1), archive_unsent=True)
    assert tomorrow.get("/issues/2022-09-10").status_code == 200


def test_a_newly_sent_issue_appears_without_a_restart(
    issues: Path, make_client: MakeClient
) -> None:
    """A finished campaign or an edited file shows within a second, without a restart."""
    write_issue(issues, "2022-09-08")
    now = [NOW]
    client = make_client(lambda: now[0])
    assert client.get("/issues/2022-09-08").status_code == 404
    campaign(db(), "2022-09-08", "done")
    now[0] += dt.timedelta(seconds=0.5)
    assert client.get("/issues/2022-09-08").status_code == 404  # checked half a second ago
    now[0] += dt.timedelta(seconds=0.5)
    assert client.get("/issues/2022-09-08").status_code == 200
    write_issue(issues, "2022-09-08", title="Edited title")
    os.utime(issues / "2022-09-08.yaml", ns=(0, 10**18))  # a later modification time
    now[0] += dt.timedelta(seconds=1)
    assert "Edited title" in client.get("/archive/").text


def test_the_archive_is_paginated_newest_first(issues: Path, make_client: MakeClient) -> None:
    """25 issues make three pages of 10, 10 and 5, linked to each other; page 4 is 404."""
    days = [(dt.date(2022, 8, 1) + dt.timedelta(days=n)).isoformat() for n in range(25)]
    for day in days:
        write_issue(issues, day)
    client = make_client(archive_unsent=True)
    seen: list[str] = []
    url: str | None = "/archive/"
    while url:
        page = client.get(url)
        assert page.status_code == 200
        seen += re.findall(r'<time datetime="([\d-]+)">', page.text)
        older = re.search(r'<a href="([^"]+)" rel="next">', page.text)
        url = older.group(1) if older else None
    assert seen == sorted(days, reverse=True)
    assert client.get("/archive/page/4/").status_code == 404
    assert client.get("/archive/page/1/").status_code == 404
    second = client.get("/archive/page/2/").text
    assert 'href="/archive/" rel="prev"' in second
    assert "MO2: Model-Based Offline Options" in second  # each issue's papers are listed


def test_the_issue_page_renders_the_readers_variant(issues: Path, make_client: MakeClient) -> None:
    """?lang=en&categories=CV shows CV papers in English only, and says how to see all."""
    issue = load_issue(write_issue(issues, "2022-09-07"))
    campaign(db(), "2022-09-07", "done")
    client = make_client()
    both = client.get("/issues/2022-09-07").text
    assert "MO2: 基于模型的离线选项" in both and "MO2: Model-Based Offline Options" in both
    english = client.get("/issues/2022-09-07", params={"lang": "en", "categories": "CV"}).text
    assert '<html lang="en">' in english
    assert "Facial Expression Translation using Landmark Guided GANs" in english
    assert "MO2" not in english  # an LG paper
    for paper in issue.papers:
        assert html.escape(paper.title_zh or "-") not in english
    assert issue.summary and issue.summary[:20] not in english
    assert "/issues/2022-09-07?lang=en" in hrefs(english)  # "show every paper"
    chinese = client.get("/issues/2022-09-07", params={"lang": "zh"}).text
    assert "MO2: 基于模型的离线选项" in chinese


def test_the_issue_page_has_no_personal_or_self_links(
    issues: Path, make_client: MakeClient
) -> None:
    """No unsubscribe/preferences links, no link to the page itself; a language switch."""
    write_issue(issues, "2022-09-07")
    campaign(db(), "2022-09-07", "done")
    client = make_client()
    for query in ("", "?lang=en", "?lang=zh&categories=LG,CV"):
        page = client.get(f"/issues/2022-09-07{query}")
        links = hrefs(page.text)
        assert f"/issues/2022-09-07{query}" not in links
        assert not any("/unsubscribe/" in h or "/preferences/" in h for h in links)
        switch = re.search(r'<nav class="switch".*?</nav>', page.text, re.S)
        assert switch and len(re.findall(r"<a href=", switch.group(0))) == 2
        assert 'aria-current="page"' in switch.group(0)
        assert "https://news.example.org/subscribe" in links
        assert page.headers["content-security-policy"].startswith("default-src 'none'")


def test_every_paper_has_a_stable_anchor(issues: Path, make_client: MakeClient) -> None:
    """Each paper's id is made from its arXiv id, the same in every variant."""
    path = write_issue(issues, "2022-09-07")
    campaign(db(), "2022-09-07", "done")
    client = make_client()
    issue = load_issue(path)
    for query in ("", "?lang=en"):
        page = client.get(f"/issues/2022-09-07{query}").text
        for paper in issue.papers:
            assert f'id="arxiv-{paper.arxiv_id}"' in page


def test_view_in_browser_links_carry_the_readers_variant(
    issues: Path, make_client: MakeClient
) -> None:
    """The email's "view in browser" link opens the same variant in the archive."""
    path = write_issue(issues, "2022-09-07")
    campaign(db(), "2022-09-07", "done")
    client = make_client()
    issue = load_issue(path)
    renderer = Renderer("https://news.example.org")
    default = renderer.render(issue, Variant())
    assert 'href="https://news.example.org/issues/2022-09-07"' in default.html
    rendered = renderer.render(issue, Variant("en", frozenset({"CV"})))
    link = next(h for h in hrefs(rendered.html) if "/issues/" in h)
    assert link == "https://news.example.org/issues/2022-09-07?lang=en&categories=CV"
    assert link in rendered.text
    page = client.get(local(link)).text
    assert "Showing CV only" in page and "MO2" not in page


def test_content_is_escaped(issues: Path, make_client: MakeClient) -> None:
    """A title with markup is text in the pages and in the feed."""
    write_issue(issues, "2022-09-07", title="<script>alert(1)</script> & more")
    campaign(db(), "2022-09-07", "done")
    client = make_client()
    for url in ("/archive/", "/issues/2022-09-07"):
        page = client.get(url).text
        assert "<script>" not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in page
    feed = feedparser.parse(client.get("/feed.xml").content)
    assert not feed.bozo
    assert feed.entries[0].title == "<script>alert(1)</script> & more"


def test_feeds_are_valid_atom_with_working_links(issues: Path, make_client: MakeClient) -> None:
    """/feed.xml has every public issue, /feeds/CV.xml every CV paper; all links resolve."""
    for day in ("2022-09-06", "2022-09-07", "2022-09-08"):
        write_issue(issues, day)
    campaign(db(), "2022-09-06", "done")
    campaign(db(), "2022-09-07", "done")
    client = make_client()
    response = client.get("/feed.xml")
    assert response.headers["content-type"].startswith("application/atom+xml")
    feed = feedparser.parse(response.content)
    assert not feed.bozo and feed.version == "atom10"
    assert [e.link for e in feed.entries] == [
        "https://news.example.org/issues/2022-09-07", "https://news.example.org/issues/2022-09-06"
    ]
    assert all(e.id and e.updated_parsed for e in feed.entries)
    for entry in feed.entries:
        assert client.get(local(entry.link)).status_code == 200
    cv = feedparser.parse(client.get("/feeds/CV.xml").content)
    assert not cv.bozo and cv.feed.title.endswith("CV 计算机视觉 / Computer Vision")
    cv_papers = [p for p in load_issue(issues / "2022-09-07.yaml").papers if p.category == "CV"]
    assert len(cv.entries) == 2 * len(cv_papers) > 0  # two public issues
    for entry in cv.entries:
        anchor = urlsplit(entry.link).fragment
        page = client.get(local(entry.link))
        assert page.status_code == 200 and f'id="{anchor}"' in page.text
        assert any(link.rel == "related" and "arxiv.org/abs/" in link.href
                   for link in entry.links)
    assert client.get("/feeds/ZZ.xml").status_code == 404
    assert client.get("/feeds/cv.xml").status_code == 404


def test_a_base_url_with_a_path_works(
    issues: Path, make_client: MakeClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a base URL path every route answers under /news and every link carries it."""
    # Routes also answer without the prefix, for a reverse proxy that strips it.
    monkeypatch.setenv("NEWSLETTER_BASE_URL", "https://example.org/news")
    write_issue(issues, "2022-09-07")
    campaign(db(), "2022-09-07", "done")
    client = make_client()
    pages = {url: client.get(url) for url in (
        "/news/archive/", "/archive/", "/news/issues/2022-09-07", "/news/subscribe",
        "/news/static/site.css", "/news/feed.xml", "/news/feeds/LG.xml",
    )}
    assert {url: r.status_code for url, r in pages.items()} == dict.fromkeys(pages, 200)
    assert client.get("/news").headers["location"] == "/news/subscribe"
    for url in ("/news/archive/", "/news/issues/2022-09-07", "/news/subscribe"):
        for link in hrefs(pages[url].text):
            if link.startswith("/"):
                assert link.startswith("/news/"), (url, link)
                assert client.get(link.split("#")[0]).status_code == 200, link
            elif "example.org" in link:
                assert link.startswith("https://example.org/news/"), (url, link)
    action = re.search(r'<form method="post" action="([^"]+)"', pages["/news/subscribe"].text)
    assert action and action.group(1) == "/news/subscribe"
    feed = feedparser.parse(pages["/news/feed.xml"].content)
    assert feed.entries[0].link == "https://example.org/news/issues/2022-09-07"
    assert {link.href for link in feed.feed.links} == {
        "https://example.org/news/feed.xml", "https://example.org/news/archive/"
    }



def test_a_broken_issue_file_is_left_out(issues: Path, make_client: MakeClient) -> None:
    """An invalid file does not take the archive down: it is simply not listed."""
    write_issue(issues, "2022-09-06")
    (issues / "2022-09-07.yaml").write_text("date: 2022-09-07\ntitle: [broken\n", "utf-8")
    client = make_client(archive_unsent=True)
    listed = re.findall(r'<time datetime="([\d-]+)">', client.get("/archive/").text)
    assert listed == ["2022-09-06"]
    assert client.get("/issues/2022-09-07").status_code == 404
