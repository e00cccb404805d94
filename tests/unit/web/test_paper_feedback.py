""""More like this" and "Not for me" (issue 21): links signed per reader in each email,
pages that record only on a button press, and a one-press follow of authors or category."""

from __future__ import annotations

import email
import email.policy
import os
import re
import shutil
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from starlette.testclient import TestClient
from support.sending import send_issue

from newsletter.settings import get_settings
from newsletter.store.campaigns import CampaignStore
from newsletter.store.db import Database, open_database
from newsletter.store.editions import PreferenceStore
from newsletter.store.paper_feedback import PaperFeedbackStore
from newsletter.store.subscribers import SubscriberStore
from newsletter.transports.outbox import OutboxTransport
from newsletter.web.app import create_app

LINK = re.compile(r"https://news\.example\.org(/feedback/\S+)")


@pytest.fixture
def db() -> Iterator[Database]:
    opened = open_database(os.environ["NEWSLETTER_DATABASE_URL"])
    yield opened
    opened.close()


@pytest.fixture
def links(db: Database, tmp_path: Path, sample_issue_path: Path,
          monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """The sample issue sent to two readers; each one's feedback link paths, in order."""
    monkeypatch.setenv("NEWSLETTER_MAX_SEND_RATE", "500")
    SubscriberStore(db).add("a@example.org", status="active", language="en",
                            categories={"CV"})
    SubscriberStore(db).add("b@example.org", status="active", language="en")
    issue = tmp_path / "issues" / "2022-09-07.yaml"
    issue.parent.mkdir()
    shutil.copy(sample_issue_path, issue)
    send_issue(get_settings(), str(issue), transport=OutboxTransport(tmp_path / "outbox"))
    found = {}
    for path in (tmp_path / "outbox").glob("*.eml"):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
        text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        in_html = [m.replace("&amp;", "&") for m in re.findall(
            r'href="https://news\.example\.org(/feedback/[^"]+)"', html)]
        # The plain text carries the same links as the HTML (spam filters count a message
        # whose parts' links differ); the page of every paper is the links' common stem.
        assert LINK.findall(text) == in_html
        page = in_html[0].rsplit("/more/", 1)[0]
        found[str(message["To"])] = [page, *in_html]
    return found


@pytest.fixture
def client(db: Database, tmp_path: Path) -> Iterator[TestClient]:
    app = create_app(get_settings(), db=db, transport=OutboxTransport(tmp_path / "web"))
    with TestClient(app, follow_redirects=False) as made:
        yield made


def test_a_get_records_nothing_and_the_button_press_does(
    links: dict[str, list[str]], client: TestClient, db: Database,
) -> None:
    """Every paper has both links, different per reader; a GET (what link scanners do)
    shows a button and records nothing; the POST records; a later press replaces it; the
    counts per paper are what a report shows."""
    (a_page, *a), (_, *b) = links["a@example.org"], links["b@example.org"]
    assert len(a) == 2 * 2 and len(b) == 2 * 9  # a chose CV: two papers
    assert a[0].endswith("/2022-09-07/more/2209.01540") and a[1].endswith("/less/2209.01540")
    assert a[0].split("/")[2] != b[0].split("/")[2]  # the token is the reader's own
    campaign = CampaignStore(db).get("2022-09-07")
    assert campaign is not None
    votes = PaperFeedbackStore(db)
    page = client.get(a[1])
    assert page.status_code == 200 and "Record: not for me" in page.text
    assert page.headers["cache-control"] == "no-store"
    assert votes.counts(campaign.id) == {}
    done = client.post(a[1])
    assert done.status_code == 200 and "Recorded, thank you." in done.text
    assert votes.counts(campaign.id) == {"2209.01540": {"more": 0, "less": 1}}
    client.post(a[0])
    client.post(next(link for link in b if link.endswith("/more/2209.01540")))
    assert votes.counts(campaign.id) == {"2209.01540": {"more": 2, "less": 0}}
    listing = client.get(a_page)
    assert listing.status_code == 200 and votes.counts(campaign.id)["2209.01540"]["more"] == 2
    actions = re.findall(r'<form method="post" action="([^"]+)"', listing.text)
    assert actions == a  # a's two papers, each with both buttons
    client.post(actions[3])
    assert votes.counts(campaign.id)["2209.02136"] == {"more": 0, "less": 1}


def test_more_like_this_offers_one_press_follows(
    links: dict[str, list[str]], client: TestClient, db: Database,
) -> None:
    """After "More like this" each author and (for a reader of some categories only) the
    paper's category can be followed with one press; following twice says so."""
    more = links["a@example.org"][3]  # the second CV paper: H Tang, N Sebe
    answer = client.post(more)
    assert 'value="author:H Tang"' in answer.text and 'value="category:CV"' in answer.text
    follow = more.replace("/more/", "/follow/")
    assert "Following it" in client.post(follow, data={"follow": "author:H Tang"}).text
    assert "already follow" in client.post(follow, data={"follow": "author:H Tang"}).text
    reader = SubscriberStore(db).find("a@example.org")
    assert reader is not None
    assert [str(f) for f in PreferenceStore(db).get(reader.id).follows] == ["author:H Tang"]
    assert "already follow" in client.post(follow, data={"follow": "category:CV"}).text
    refused = client.post(follow, data={"follow": "author:Somebody Else"})
    assert "Not followed" in refused.text
    all_b = client.post(links["b@example.org"][1])
    assert 'value="category:' not in all_b.text


def test_links_for_other_readers_papers_or_issues_are_refused(
    links: dict[str, list[str]], client: TestClient, db: Database,
) -> None:
    """A paper not in the issue, an issue never sent, another purpose's token or a
    tampered token: the same 400 page, nothing recorded."""
    good = links["a@example.org"][1]
    token = good.split("/")[2]
    bad = [
        good.replace("2209.01540", "2209.99999"),
        good.replace("2022-09-07", "2022-09-08"),
        good.replace(token, token[:-1] + ("A" if token[-1] != "A" else "B")),
        good.replace("/more/", "/maybe/"),
    ]
    for path in bad[:3]:
        for answer in (client.get(path), client.post(path)):
            assert answer.status_code == 400 and "not valid" in answer.text
    assert client.get(bad[3]).status_code == 404
    campaign = CampaignStore(db).get("2022-09-07")
    assert campaign is not None and PaperFeedbackStore(db).counts(campaign.id) == {}
