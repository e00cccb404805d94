"""The desk's weekly editions (issue 21): readers per weekday, build, schedule; the worker
starts a scheduled edition when it is due and sends it like any campaign."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.desk import EDITOR, DeskSite, desk_site
from support.env import SAMPLE_ISSUE

from newsletter import wiring
from newsletter.model.editions import parse_preferences
from newsletter.sending.worker import run_worker
from newsletter.settings import get_settings
from newsletter.store.campaigns import CampaignStore
from newsletter.store.db import Database
from newsletter.store.desk import DeskStore
from newsletter.store.editions import PreferenceStore
from newsletter.store.subscribers import SubscriberStore
from newsletter.transports.outbox import OutboxTransport


@pytest.fixture
def issues(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "issues"
    folder.mkdir()
    (folder / "2022-09-07.yaml").write_bytes(SAMPLE_ISSUE.read_bytes())
    monkeypatch.setenv("NEWSLETTER_ISSUES_DIR", str(folder))
    return folder


@pytest.fixture
def desk(db: Database, tmp_path: Path, issues: Path) -> Iterator[tuple[DeskSite, str]]:
    settings = get_settings().model_copy(update={"issues_dir": issues})
    with desk_site(settings, db, tmp_path / "outbox") as site:
        site.clock.now = dt.datetime(2022, 9, 6, 12, 0, tzinfo=dt.UTC)  # a Tuesday
        yield site, site.sign_in()


@pytest.mark.slow
def test_an_editor_builds_and_schedules_the_weekly_edition(
    desk: tuple[DeskSite, str], db: Database, issues: Path, tmp_path: Path,
) -> None:
    """The page lists the next seven days with their weekly readers; Build writes the
    edition, Schedule records it under the weekly key; the worker starts it when due and
    sends it to that weekday's weekly readers only."""
    site, csrf = desk
    for address, frequency in (("wed@example.org", "weekly:WED"),
                               ("thu@example.org", "weekly:THU"),
                               ("daily@example.org", "daily")):
        reader = SubscriberStore(db).add(address, status="active")
        PreferenceStore(db).set(reader.id, parse_preferences(frequency, "", ""))
    page = site.client.get("/admin/weekly")
    assert page.status_code == 200
    wed = re.search(r"<td>2022-09-07</td><td>WED</td><td>(\d+)</td>\s*<td>([^<]+)</td>", page.text)
    assert wed is not None and wed.groups() == ("1", "not built")
    assert site.client.post("/admin/weekly/2022-09-07/build").status_code == 403
    built = site.client.post("/admin/weekly/2022-09-07/build", data={"csrf": csrf})
    assert built.headers["location"] == "/admin/weekly?done=built"
    assert (issues / "weekly" / "2022-09-07.yaml").exists()
    late = site.client.post("/admin/weekly/2022-09-07/schedule",
                            data={"csrf": csrf, "time": "not-a-time"})
    assert late.headers["location"].endswith("error=time")
    done = site.client.post("/admin/weekly/2022-09-07/schedule",
                            data={"csrf": csrf, "time": "08:00"})
    assert done.headers["location"] == "/admin/weekly?done=scheduled"
    [scheduled] = DeskStore(db).scheduled()
    assert scheduled.issue_date == "W20220907"
    audit = [(e.actor, e.action, e.target) for e in DeskStore(db).audit_entries(10)]
    assert (EDITOR, "schedule weekly", "2022-09-07") in audit
    shown = site.client.get("/admin/weekly")
    assert "2022-09-07 08:00" in shown.text

    # The worker, once the schedule is due, starts and sends it.
    with wiring.campaigns(get_settings(), OutboxTransport(tmp_path / "sent")) as campaigns:
        due = DeskStore(campaigns.store.db,
                        clock=lambda: dt.datetime(2022, 9, 7, 0, 30, tzinfo=dt.UTC))
        run_worker(campaigns, once=True, schedules=due)
    campaign = CampaignStore(db).get("W20220907")
    assert campaign is not None and campaign.status == "done" and campaign.total == 1
    sent = list((tmp_path / "sent").glob("*.eml"))
    assert len(sent) == 1 and b"wed@example.org" in sent[0].read_bytes()
