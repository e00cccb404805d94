"""`status --all` names every in-doubt delivery; `status --json` is one object for scripts."""

from __future__ import annotations

import json
import os

import pytest
from support.delivery import subscribe
from typer.testing import CliRunner

from newsletter.cli.main import app
from newsletter.model.campaigns import DeliveryResult
from newsletter.store.campaigns import CampaignStore
from newsletter.store.db import open_database


@pytest.fixture
def in_doubt() -> int:
    """A campaign of 2022-09-07 whose every delivery is in doubt; how many there are."""
    url = os.environ["NEWSLETTER_DATABASE_URL"]
    subscribe(url, 35)
    db = open_database(url)
    try:
        store = CampaignStore(db)
        campaign, _ = store.start("2022-09-07", "issues/2022-09-07.yaml", ["CL", "CV", "LG"])
        claims = store.claim(campaign.id, "w", 100)
        store.record("w", [DeliveryResult(c.id, "in_doubt", error="lost answer") for c in claims])
        return len(claims)
    finally:
        db.close()


def test_status_lists_twenty_and_says_how_many_more(in_doubt: int) -> None:
    """Without --all the list stops at 20 with the count of the rest."""
    result = CliRunner().invoke(app, ["status", "2022-09-07"])
    assert result.exit_code == 0, result.output
    assert in_doubt > 20
    assert result.stdout.count("  delivery ") == 20
    assert f"... and {in_doubt - 20:,} more" in result.stdout


def test_status_all_lists_every_in_doubt_delivery(in_doubt: int) -> None:
    """--all names each in-doubt delivery and no "more"."""
    result = CliRunner().invoke(app, ["status", "2022-09-07", "--all"])
    assert result.exit_code == 0, result.output
    assert result.stdout.count("  delivery ") == in_doubt
    assert "more" not in result.stdout


def test_status_json_is_one_object_with_the_counts_and_the_list(in_doubt: int) -> None:
    """--json prints only JSON: the counts, the state and, with --all, every in-doubt one."""
    result = CliRunner().invoke(app, ["status", "2022-09-07", "--json", "--all"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["issue_date"] == "2022-09-07"
    assert data["counts"]["in_doubt"] == in_doubt == len(data["in_doubt"])
    assert data["counts"]["total"] == in_doubt
    assert {d["reason"] for d in data["in_doubt"]} == {"lost answer"}
    assert data["outcome"] in ("done", "incomplete") and isinstance(data["exit_code"], int)
