"""The week's best (issue 21): built from a week of daily issues, no paper twice, in the
editor's order, readers' clicks first where SES reported them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import insert
from support.env import SAMPLE_ISSUE

from newsletter.editing.weekly import build_weekly, clicks_by_paper, week_days
from newsletter.issues.loader import load_issue
from newsletter.issues.model import Issue
from newsletter.store.campaigns import CampaignStore
from newsletter.store.db import Database, make_engine, upgrade
from newsletter.store.tables import campaigns
from newsletter.store.tables_activity import campaign_links

END = dt.date(2022, 9, 7)
NOW = dt.datetime(2022, 9, 7, 8, 0, tzinfo=dt.UTC)


def _week() -> list[Issue]:
    sample = load_issue(SAMPLE_ISSUE)
    days = []
    for n, day in enumerate(week_days(END)):
        def moved(url: str, n: int = n) -> str:
            return url.replace("/2209.0", f"/2209.{n}") if n else url
        days.append(sample.model_copy(update={
            "date": day,
            "featured": [p.model_copy(update={"url": moved(p.url)}) for p in sample.featured],
            "notable": [p.model_copy(update={"url": moved(p.url)}) for p in sample.notable],
        }))
    return days


def test_the_editors_order_then_clicks() -> None:
    """Without clicks: each day's first featured paper, newest day first, then each day's
    second...; notable after featured. A clicked paper moves ahead of its kind."""
    week = build_weekly(_week(), END)
    firsts = [f"2209.{n}1947" if n else "2209.01947" for n in range(6, -1, -1)]
    assert [p.arxiv_id for p in week.featured[:7]] == firsts
    assert len(week.featured) == 12 and len(week.notable) == 12
    assert week.date == END and week.title == "本周精选 · Week of 2022-09-07"
    clicked = build_weekly(_week(), END, {"2209.21540": 3, "2209.32606": 5})
    assert [p.arxiv_id for p in clicked.featured[:2]] == ["2209.32606", firsts[0]]
    assert clicked.notable[0].arxiv_id == "2209.21540"


def test_no_paper_twice() -> None:
    """A paper in two daily issues is in the edition once."""
    week = _week()
    week[3] = week[3].model_copy(update={"featured": [week[5].featured[0],
                                                      *week[3].featured[1:]]})
    ids = [p.arxiv_id for p in build_weekly(week, END).papers]
    assert len(ids) == len(set(ids))


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    upgrade(database_url)
    opened = Database(make_engine(database_url))
    yield opened
    opened.close()


def test_clicks_come_from_the_weeks_rolled_up_link_counters(db: Database) -> None:
    """Readers per paper come from the roll-up's per-link counters of the week's campaigns
    (raw click events keep no link once matched); links that are not papers and other
    weeks' campaigns are left out, and a paper clicked in two issues adds up."""
    with db.engine.begin() as conn:
        for id_, date in ((1, "2022-09-06"), (2, "2022-08-01"), (3, "2022-09-05")):
            conn.execute(insert(campaigns).values(id=id_, issue_date=date, issue_path="x",
                                                  status="done", total=1, created_at=NOW))
        rows = [
            (1, "paper", "2209.01947", 3, 2),
            (3, "paper", "2209.01947", 1, 1),
            (1, "archive", "https://news.example.org/archive/", 1, 1),
            (2, "paper", "2209.02606", 4, 4),
        ]
        for campaign, kind, key, clicks, readers in rows:
            conn.execute(insert(campaign_links).values(
                campaign_id=campaign, kind=kind, key=key, clicks=clicks, readers=readers))
    by_link = CampaignStore(db).clicks_by_link(d.isoformat() for d in week_days(END))
    assert clicks_by_paper(by_link) == {"2209.01947": 3}
