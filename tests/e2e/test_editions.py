"""Issue 21 end to end: readers of every kind, seven daily issues and two weekly editions
sent through the outbox, and each reader got exactly what their preferences say: which
emails, how many papers, which in "For you" and why; a "Not for me" GET changes nothing
and its button press is recorded.

Daily issues of Thursday 2022-09-01 to Wednesday 2022-09-07 are made from the sample issue,
each with papers of its own (Saturday repeats one of Thursday's); the weekly editions are
those of Monday 2022-09-05 and Wednesday 2022-09-07.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import os
import re
from collections import defaultdict
from email.message import EmailMessage
from pathlib import Path

import feedparser
import pytest
from starlette.testclient import TestClient
from support.sending import send_issue
from typer.testing import CliRunner

from newsletter.cli.main import app as cli
from newsletter.editing.yaml_writer import issue_yaml
from newsletter.issues.loader import load_issue
from newsletter.issues.model import Issue
from newsletter.model.editions import parse_preferences
from newsletter.settings import get_settings
from newsletter.store.campaigns import CampaignStore
from newsletter.store.db import open_database
from newsletter.store.editions import PreferenceStore
from newsletter.store.paper_feedback import PaperFeedbackStore
from newsletter.store.subscribers import SubscriberStore
from newsletter.web.app import create_app

pytestmark = pytest.mark.e2e
DAYS = [dt.date(2022, 9, 1) + dt.timedelta(days=n) for n in range(7)]
READERS = {
    # address: (language, frequency, max papers, follows)
    "daily@example.org": ("en", "daily", "", ""),
    "three@example.org": ("en", "daily", "3", ""),
    "paused@example.org": ("en", "paused:2022-09-04", "", ""),
    "wed@example.org": ("en", "weekly:WED", "", "author:J Dean"),
    "mon@example.org": ("en", "weekly:MON", "3", ""),
    "keyword@example.org": ("en", "daily", "", "gflownets"),
    "author@example.org": ("en", "daily", "", "author:J Dean"),
    "affiliation@example.org": ("en", "daily", "", "affiliation:Tel-Aviv University"),
    "chinese@example.org": ("zh", "daily", "", "稀疏专家"),
}


def _day_issue(sample: Issue, n: int) -> Issue:
    """The sample as the issue of DAYS[n], its arXiv ids made its own (2209.0xxxx becomes
    2209.{n}xxxx); the Saturday issue repeats Thursday's first paper."""
    def moved(url: str) -> str:
        return url if n == 0 else url.replace("/2209.0", f"/2209.{n}")

    featured = [p.model_copy(update={"url": moved(p.url)}) for p in sample.featured]
    if n == 2:
        featured[0] = sample.featured[0]
    notable = [p.model_copy(update={"url": moved(p.url)}) for p in sample.notable]
    return sample.model_copy(update={"date": DAYS[n], "featured": featured, "notable": notable,
                                     "title": f"AI 前沿论文速递 · {DAYS[n]}",
                                     "title_en": f"AI Paper Digest · {DAYS[n]}"})


Received = tuple[list[str], list[tuple[str, str]], str, str]


def _received(outbox: Path, keys: dict[int, str]) -> dict[str, dict[str, Received]]:
    """Per reader, per campaign key: the arXiv ids of the email (in order), its For-you
    entries (arXiv id, what matched), its plain text and its HTML."""
    found: dict[str, dict[str, Received]] = defaultdict(dict)
    for path in outbox.glob("*.eml"):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        campaign_id = int(str(message["X-Newsletter-Delivery"]).split(".")[0])
        text = message.get_body(("plain",)).get_content().replace("\r\n", "\n")  # type: ignore[union-attr]
        block = re.search(r"(?:For you|为你推荐)\n\n(.*?)\n={70}", text, re.S)
        listed = text[block.end():] if block else text  # the papers after the block
        ids = list(dict.fromkeys(re.findall(r"arxiv\.org/abs/(\d{4}\.\d{5})", listed)))
        entries = re.findall(r"arxiv\.org/abs/(\S+)\n  (?:matches: |匹配：)(.*)\n",
                             block.group(1)) if block else []
        key = keys[campaign_id]
        assert key not in found[str(message["To"])], "a reader got an issue twice"
        html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
        found[str(message["To"])][key] = (ids, entries, text, html)
    return found


def test_every_reader_gets_what_their_preferences_say(
    tmp_path: Path, sample_issue_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Seven daily sends and two weekly editions; then every reader's mail is checked."""
    monkeypatch.setenv("NEWSLETTER_MAX_SEND_RATE", "1000")
    issues_dir = tmp_path / "issues"
    monkeypatch.setenv("NEWSLETTER_ISSUES_DIR", str(issues_dir))
    issues_dir.mkdir()
    sample = load_issue(sample_issue_path)
    days = [_day_issue(sample, n) for n in range(7)]
    for issue in days:
        data = issue.model_dump(mode="json", exclude_defaults=True)
        (issues_dir / f"{issue.date}.yaml").write_text(issue_yaml(data), "utf-8")
    db = open_database(os.environ["NEWSLETTER_DATABASE_URL"])
    try:
        for address, (language, frequency, limit, follows) in READERS.items():
            reader = SubscriberStore(db).add(address, status="active", language=language)
            PreferenceStore(db).set(reader.id, parse_preferences(frequency, limit, follows))
        settings = get_settings()
        for day in DAYS:
            summary = send_issue(settings, str(issues_dir / f"{day}.yaml"))
            assert summary.outcome == "done", summary.lines()
        for day in ("2022-09-05", "2022-09-07"):
            result = CliRunner().invoke(cli, ["weekly", day, "--build", "--send", "--yes"])
            assert result.exit_code == 0, result.output
            assert "campaign W2022090" in result.output
        again = CliRunner().invoke(cli, ["weekly", "2022-09-07", "--send", "--yes"])
        assert again.exit_code == 0 and "0 queued" in again.output  # exactly once
        status = CliRunner().invoke(cli, ["status", "W20220907"])
        assert status.exit_code == 0 and "campaign W20220907: done; 1 deliveries" in status.output
        keys = {c.id: c.issue_date for c in CampaignStore(db).recent()}
        got = _received(Path(settings.outbox_dir), keys)
        daily = [str(d) for d in DAYS]
        by_day = {str(i.date): [p.arxiv_id for p in i.papers] for i in days}

        # Which emails.
        for address in ("daily@example.org", "three@example.org", "keyword@example.org",
                        "author@example.org", "affiliation@example.org", "chinese@example.org"):
            assert sorted(got[address]) == daily, address
        assert sorted(got["paused@example.org"]) == daily[3:]
        assert sorted(got["wed@example.org"]) == ["W20220907"]
        assert sorted(got["mon@example.org"]) == ["W20220905"]

        # How many papers, in the editor's order.
        for day in daily:
            assert got["daily@example.org"][day][0] == by_day[day]
            assert got["three@example.org"][day][0] == by_day[day][:3]
        week = load_issue(issues_dir / "weekly" / "2022-09-07.yaml")
        ids = [p.arxiv_id for p in week.papers]
        # The week's best: 12 featured and 12 notable, none twice (Saturday's repeat of
        # Thursday's first paper is in once).
        assert len(ids) == len(set(ids)) == 24 and "2209.01947" in ids
        assert week.title_en == "Week's best · Week of 2022-09-07"
        assert got["wed@example.org"]["W20220907"][0] == ids
        tops = list(dict.fromkeys(by_day[d][0] for d in reversed(daily)))
        assert ids[:len(tops)] == tops  # each day's first paper first, newest day first
        assert got["mon@example.org"]["W20220905"][0] == [
            by_day["2022-09-05"][0], by_day["2022-09-04"][0], by_day["2022-09-03"][0]]
        assert "Week's best · Week of 2022-09-05" in got["mon@example.org"]["W20220905"][2]

        # Which in "For you", and why.
        gflownets = {d: by_day[d][3] for d in daily}
        for day in daily:
            assert got["keyword@example.org"][day][1] == [(gflownets[d], "gflownets")
                                                          for d in [day]]
            assert got["author@example.org"][day][1] == [(by_day[day][1], "J Dean")]
            assert got["affiliation@example.org"][day][1] == [
                (by_day[day][2], "Tel-Aviv University")]
            assert got["chinese@example.org"][day][1] == [(by_day[day][1], "稀疏专家")]
            assert got["daily@example.org"][day][1] == []
        dean = got["wed@example.org"]["W20220907"][1]
        assert [name for _, name in dean] == ["J Dean"] * 6
        assert sorted(i for i, _ in dean) == sorted(by_day[d][1] for d in daily[1:])

        # "Not for me": a GET changes nothing; the button press is recorded.
        html = got["wed@example.org"]["W20220907"][3]
        link = re.search(r'href="https://news\.example\.org(/feedback/[^"]+/less/[^"]+)"', html)
        assert link is not None
        weekly = CampaignStore(db).get("W20220907")
        assert weekly is not None
        votes = PaperFeedbackStore(db)
        with TestClient(create_app(settings, db=db), follow_redirects=False) as client:
            assert client.get(link.group(1)).status_code == 200
            assert votes.counts(weekly.id) == {}
            assert client.post(link.group(1)).status_code == 200

            # Its own archive page (the email's "view in browser") and feed entry.
            assert "https://news.example.org/weekly/2022-09-07" in html
            page = client.get("/weekly/2022-09-07")
            assert page.status_code == 200 and "本周精选 · Week of 2022-09-07" in page.text
            assert all(f"arxiv.org/abs/{i}" in page.text for i in ids)
            assert "Week of 2022-09-05" in client.get("/weekly/").text
            feed = feedparser.parse(client.get("/weekly/feed.xml").content)
            assert not feed.bozo
            assert [e.link for e in feed.entries] == [
                "https://news.example.org/weekly/2022-09-07",
                "https://news.example.org/weekly/2022-09-05"]
            assert client.get("/weekly/2022-09-06").status_code == 404
            daily_page = client.get("/issues/2022-09-07")
            assert "本周精选" not in daily_page.text and "2209.61947" in daily_page.text
        assert votes.counts(weekly.id) == {ids[0]: {"more": 0, "less": 1}}
    finally:
        db.close()
