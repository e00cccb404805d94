"""`newsletter site --out DIR`: the archive and feeds as static files that link to each other."""

from __future__ import annotations

import html
import os
import re
from pathlib import Path
from urllib.parse import urlsplit

import feedparser
import pytest
from support.archive import campaign, write_issue
from typer.testing import CliRunner

from newsletter.cli.main import app
from newsletter.web.static_site import MARKER


@pytest.fixture
def issues(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "issues"
    monkeypatch.setenv("NEWSLETTER_ISSUES_DIR", str(folder))
    return folder


def build(out: Path) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["site", "--out", str(out)])
    return result.exit_code, result.output + result.stderr


def target(out: Path, root: str, link: str) -> Path | None:
    """The file a static host serves for a root-relative ``link``, or None."""
    path = urlsplit(link).path
    assert path.startswith(root + "/"), link
    path = path[len(root):]
    found = out / path.lstrip("/")
    if path.endswith("/"):
        found = found / "index.html"
    return found if found.is_file() else None


def all_links(out: Path) -> list[tuple[Path, str]]:
    return [
        (page, html.unescape(link))
        for page in sorted(out.rglob("*.html"))
        for link in re.findall(r'href="([^"]+)"', page.read_text("utf-8"))
    ]


@pytest.mark.parametrize("base", ["https://news.example.org", "https://example.org/news"])
def test_every_link_of_the_site_is_a_written_file(
    issues: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, base: str
) -> None:
    """Every link in the written pages and feeds is a written file, base URL path included."""
    monkeypatch.setenv("NEWSLETTER_BASE_URL", base)
    root = urlsplit(base).path
    for day in ("2022-09-06", "2022-09-07", "2022-09-08"):
        write_issue(issues, day)
    campaign(os.environ["NEWSLETTER_DATABASE_URL"], "2022-09-06", "done")
    campaign(os.environ["NEWSLETTER_DATABASE_URL"], "2022-09-07", "done")
    out = tmp_path / "site"
    code, output = build(out)
    assert code == 0, output
    assert "2 issue(s)" in output
    assert (out / "issues/2022-09-07/index.html").is_file()
    assert (out / "issues/2022-09-07/en/index.html").is_file()
    assert not (out / "issues/2022-09-08").exists()  # never sent
    links = all_links(out)
    assert links
    for page, link in links:
        if link.startswith("/"):
            assert target(out, root, link) is not None, (page, link)
        elif not link.startswith("https://arxiv.org/"):
            assert link == f"{base}/subscribe", (page, link)
    english = (out / "issues/2022-09-07/en/index.html").read_text("utf-8")
    assert f'href="{root}/issues/2022-09-07/zh/"' in english
    assert 'aria-current="page">English' in english
    feed = feedparser.parse((out / "feed.xml").read_bytes())
    assert not feed.bozo and len(feed.entries) == 2
    for entry in feed.entries:
        assert entry.link.startswith(f"{base}/issues/")
        assert target(out, root, entry.link) is not None
    cv = feedparser.parse((out / "feeds" / "CV.xml").read_bytes())
    assert not cv.bozo and cv.entries
    for entry in cv.entries:
        page = target(out, root, entry.link)
        assert page is not None
        assert f'id="{urlsplit(entry.link).fragment}"' in page.read_text("utf-8")


def test_a_rebuild_removes_what_is_no_longer_published(issues: Path, tmp_path: Path) -> None:
    """An issue file deleted since the last build loses its pages on the next build."""
    write_issue(issues, "2022-09-06")
    write_issue(issues, "2022-09-07")
    for day in ("2022-09-06", "2022-09-07"):
        campaign(os.environ["NEWSLETTER_DATABASE_URL"], day, "done")
    out = tmp_path / "site"
    assert build(out)[0] == 0
    assert (out / "issues/2022-09-06/zh/index.html").is_file()
    (issues / "2022-09-06.yaml").unlink()
    code, output = build(out)
    assert code == 0 and "3 stale file(s) removed" in output
    assert not (out / "issues/2022-09-06").exists()
    assert (out / "issues/2022-09-07/index.html").is_file()


def test_a_folder_with_other_files_is_refused(issues: Path, tmp_path: Path) -> None:
    """`site --out` will not clean a folder that it did not write."""
    out = tmp_path / "elsewhere"
    out.mkdir()
    (out / "notes.txt").write_text("mine", "utf-8")
    code, output = build(out)
    assert code == 1
    assert "is not empty and was not written by `newsletter site`" in output
    assert (out / "notes.txt").read_text("utf-8") == "mine"


def test_a_folder_that_cannot_be_written_is_one_line(issues: Path, tmp_path: Path) -> None:
    """An unwritable output folder is a one-line error with exit status 1, not a traceback."""
    write_issue(issues, "2022-09-07")
    campaign(os.environ["NEWSLETTER_DATABASE_URL"], "2022-09-07", "done")
    out = tmp_path / "site"
    out.mkdir()
    (out / MARKER).write_text("", "utf-8")
    (out / "issues").write_text("a file where a folder must go", "utf-8")
    code, output = build(out)
    assert code == 1
    assert "cannot write" in output and "Traceback" not in output


def test_the_weekly_editions_sent_are_part_of_the_site(
    issues: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sent weekly edition gets its pages (both languages), archive and feed under weekly/,
    every link in them a written file; an edition built but not sent is not published."""
    import datetime as dt

    from newsletter.editing.weekly import write_weekly

    base = "https://example.org/news"
    monkeypatch.setenv("NEWSLETTER_BASE_URL", base)
    for day in ("2022-09-05", "2022-09-06", "2022-09-07"):
        write_issue(issues, day)
        campaign(os.environ["NEWSLETTER_DATABASE_URL"], day, "done")
    write_weekly(issues, dt.date(2022, 9, 7))
    write_weekly(issues, dt.date(2022, 9, 6))  # built, never sent
    campaign(os.environ["NEWSLETTER_DATABASE_URL"], "W20220907", "done")
    out = tmp_path / "site"
    code, output = build(out)
    assert code == 0, output
    for page in ("weekly/index.html", "weekly/2022-09-07/index.html",
                 "weekly/2022-09-07/zh/index.html", "weekly/2022-09-07/en/index.html"):
        assert (out / page).is_file(), page
    assert not (out / "weekly/2022-09-06").exists()
    weekly_links = [(page, link) for page, link in all_links(out)
                    if page.is_relative_to(out / "weekly")]
    assert weekly_links
    for page, link in weekly_links:
        if link.startswith("/"):
            assert target(out, "/news", link) is not None, (page, link)
    english = (out / "weekly/2022-09-07/en/index.html").read_text("utf-8")
    assert 'href="/news/weekly/2022-09-07/zh/"' in english
    feed = feedparser.parse((out / "weekly/feed.xml").read_bytes())
    assert not feed.bozo
    assert [entry.link for entry in feed.entries] == [f"{base}/weekly/2022-09-07/"]
    assert target(out, "/news", feed.entries[0].link) is not None
