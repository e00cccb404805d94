"""`newsletter report`: the table, the CSV and the trends; bad options are refused."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

import pytest
from support.delivery import ISSUE_CATEGORIES, subscribe
from typer.testing import CliRunner

from newsletter.cli.main import app
from newsletter.feedback.ses_events import event_from
from newsletter.model.campaigns import DeliveryResult
from newsletter.store.campaigns import CampaignStore
from newsletter.store.db import open_database
from newsletter.store.events import EventStore, Received
from newsletter.store.paper_feedback import PaperFeedbackStore

SAMPLE = Path(__file__).resolve().parents[3] / "issues" / "2022-09-07.yaml"


def received(kind: str, delivery_id: int, **section: str) -> Received:
    return Received(event_from({
        "eventType": kind.capitalize(),
        "mail": {"messageId": f"m{delivery_id}", "destination": ["x@example.com"],
                 "tags": {"nl_delivery": [str(delivery_id)]}},
        kind: {"timestamp": "2030-01-01T00:00:00Z", **section}}))  # delivered then; read later


@pytest.fixture
def sent() -> int:
    """A sent issue: every reader delivered, two opened, one clicked twice (one paper)."""
    url = os.environ["NEWSLETTER_DATABASE_URL"]
    subscribe(url, 8)
    db = open_database(url)
    try:
        store = CampaignStore(db)
        campaign, _ = store.start("2022-09-07", str(SAMPLE), ISSUE_CATEGORIES)
        claims = store.claim(campaign.id, "w", 100)
        store.record("w", [DeliveryResult(c.id, "sent", f"m{c.id}") for c in claims])
        store.finish_if_complete(campaign.id)
        ids = [c.id for c in claims]
        EventStore(db).apply([
            *(received("delivery", i) for i in ids),
            received("open", ids[0], userAgent="Thunderbird", timestamp="2030-01-01T01:00:00Z"),
            received("open", ids[1], userAgent="Thunderbird", timestamp="2030-01-01T02:00:00Z"),
            received("click", ids[0], link="https://arxiv.org/abs/2209.01234"),
            received("click", ids[0], link="https://arxiv.org/pdf/2209.01234v2",
                     ipAddress="192.0.2.7"),
        ])
        # Issue 21's feedback under the papers: two readers, one changing their mind.
        feedback = PaperFeedbackStore(db)
        feedback.record(campaign.id, claims[0].subscriber_id, "2209.01234", "less")
        feedback.record(campaign.id, claims[0].subscriber_id, "2209.01234", "more")
        feedback.record(campaign.id, claims[1].subscriber_id, "2209.01234", "less")
        return len(ids)
    finally:
        db.close()


def test_the_table_csv_and_json_say_the_same(sent: int) -> None:
    runner = CliRunner()
    table = runner.invoke(app, ["report", "2022-09-07"])
    assert table.exit_code == 0, table.output
    assert f"  sent              {sent:>9,}" in table.stdout
    assert "  opened                    2" in table.stdout
    assert "        1       2     1     1  2209.01234" in table.stdout
    figures = list(csv.DictReader(io.StringIO(runner.invoke(
        app, ["report", "2022-09-07", "--csv"]).stdout)))
    data = json.loads(runner.invoke(app, ["report", str(SAMPLE), "--json"]).stdout)
    assert figures[0]["variant"] == "all"
    for name in ("sent", "delivered", "opened_unique", "clicked_unique", "clicks_total"):
        assert int(figures[0][name]) == data[name]
    assert (data["clicked_unique"], data["clicks_total"]) == (1, 2)
    papers = runner.invoke(app, ["report", "2022-09-07", "--csv", "--papers"]).stdout
    assert papers.splitlines()[1].startswith("2022-09-07,paper,2209.01234,")
    assert papers.splitlines()[0].endswith(",clicks,readers,more_like_this,not_for_me")
    assert papers.splitlines()[1].endswith(",2,1,1,1")
    top = data["papers"][0]
    assert (top["arxiv_id"], top["more_like_this"], top["not_for_me"]) == ("2209.01234", 1, 1)
    assert all((p["more_like_this"], p["not_for_me"]) == (0, 0) for p in data["papers"][1:])


@pytest.mark.slow
def test_trends_since_a_date(sent: int) -> None:
    runner = CliRunner()
    table = runner.invoke(app, ["report", "--since", "2022-09-01"])
    assert table.exit_code == 0, table.output
    assert "  2022-09-07" in table.stdout  # the campaign's line
    data = json.loads(runner.invoke(app, ["report", "--since", "2022-09-01", "--json"]).stdout)
    assert sum(d["added"] for d in data["days"]) == sent + 1  # the reader outside the issue
    assert data["campaigns"][0]["bounce_rate"] == 0.0
    rows = runner.invoke(app, ["report", "--since", "2022-09-01", "--csv"]).stdout.splitlines()
    assert rows[0].startswith("day,signups,confirmations")


@pytest.mark.parametrize(("args", "said"), [
    (["report"], "name an issue, or give --since DATE"),
    (["report", "2022-09-07", "--since", "2022-09-01"], "name an issue, or give --since"),
    (["report", "--since", "yesterday"], "--since yesterday: not a date"),
    (["report", "2022-09-07", "--json", "--csv"], "choose one of --json and --csv"),
    (["report", "2022-09-08"], "no campaign for 2022-09-08"),
])
def test_bad_requests_are_one_line_errors(args: list[str], said: str) -> None:
    result = CliRunner().invoke(app, args)
    assert result.exit_code != 0
    assert said in result.output
