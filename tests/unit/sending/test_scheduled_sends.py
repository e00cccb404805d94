"""`newsletter worker` starts the sends scheduled from the desk when they are due, once.

Each test runs on SQLite and on PostgreSQL (``database_url``). Time is a FakeClock: the
desk's store decides with it which schedules are due.
"""

from __future__ import annotations

import datetime as dt
import shutil
import threading
from pathlib import Path

import pytest
from support.clock import FakeClock
from support.delivery import outbox, subscribe
from support.sending import send_issue

from newsletter import wiring
from newsletter.sending.report import SendSummary
from newsletter.sending.worker import run_worker, start_scheduled
from newsletter.settings import Settings, get_settings
from newsletter.store.campaigns import CampaignStore
from newsletter.store.desk import AuditEntry, DeskStore, Schedule

# Whole campaigns with workers: `make test`, not test-fast.
pytestmark = pytest.mark.e2e

DATE = "2022-09-07"
# 07:00 in Shanghai on the issue's day; the send is scheduled for 08:00 there.
BEFORE = dt.datetime(2022, 9, 6, 23, 0, tzinfo=dt.UTC)
SEND_AT = dt.datetime(2022, 9, 7, 0, 0, tzinfo=dt.UTC)
READERS = 12  # of 14 subscribers, two chose only categories with no paper in the issue


@pytest.fixture
def issue(
    database_url: str, tmp_path: Path, sample_issue_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """The sample issue (2022-09-07) in NEWSLETTER_ISSUES_DIR and 14 subscribers, in the
    database of ``database_url``."""
    folder = tmp_path / "issues"
    folder.mkdir()
    path = folder / sample_issue_path.name
    shutil.copy(sample_issue_path, path)
    monkeypatch.setenv("NEWSLETTER_ISSUES_DIR", str(folder))
    monkeypatch.setenv("NEWSLETTER_MAX_SEND_RATE", "500")
    monkeypatch.setenv("NEWSLETTER_DATABASE_URL", database_url)
    subscribe(database_url, 14)
    return path


def schedule(settings: Settings, path: Path, send_at: dt.datetime = SEND_AT) -> bool:
    """What the desk's Schedule button stores."""
    with wiring.database(settings) as db:
        return DeskStore(db).schedule(DATE, str(path), send_at, "editor@example.org")


def worker_pass(settings: Settings, clock: FakeClock, warnings: list[str]) -> list[SendSummary]:
    """One pass of `newsletter worker` with the desk's schedules, at ``clock``'s time."""
    with wiring.scheduled_sending(settings, clock=clock) as (campaigns, schedules):
        return run_worker(campaigns, once=True, schedules=schedules, warn=warnings.append)


def schedules_now(settings: Settings) -> list[Schedule]:
    with wiring.database(settings) as db:
        return DeskStore(db).scheduled()


def audit_log(settings: Settings) -> list[AuditEntry]:
    with wiring.database(settings) as db:
        return DeskStore(db).audit_entries()


def campaign_status(settings: Settings) -> str | None:
    with wiring.database(settings) as db:
        found = CampaignStore(db).get(DATE)
    return found.status if found else None


def test_a_due_schedule_is_started_and_sent_by_the_worker(issue: Path, tmp_path: Path) -> None:
    """Before 08:00 the worker leaves the schedule alone; at 08:00 it starts and sends it."""
    settings = get_settings()
    assert schedule(settings, issue)
    clock, warnings = FakeClock(BEFORE), []
    assert worker_pass(settings, clock, warnings) == []
    assert campaign_status(settings) is None
    assert schedules_now(settings)[0].started_at is None

    clock.advance(hours=1)
    summaries = worker_pass(settings, clock, warnings)
    assert [s.outcome for s in summaries] == ["done"]
    assert campaign_status(settings) == "done"
    recipients = [str(m["To"]) for m in outbox(tmp_path / "outbox")]
    assert len(recipients) == READERS and len(set(recipients)) == READERS
    assert schedules_now(settings)[0].started_at == SEND_AT
    started = [e for e in audit_log(settings) if e.action == "started scheduled send"]
    assert [(e.actor, e.target) for e in started] == [("worker", DATE)]
    assert f"{READERS} deliveries" in started[0].detail
    assert warnings == []

    clock.advance(hours=1)
    worker_pass(settings, clock, warnings)
    assert len(outbox(tmp_path / "outbox")) == READERS  # nothing started or sent twice
    assert len([e for e in audit_log(settings) if e.actor == "worker"]) == 1


def test_workers_sharing_a_database_start_a_schedule_once(issue: Path, tmp_path: Path) -> None:
    """Four workers passing at the same instant: one starts the campaign, each reader gets
    one message."""
    settings = get_settings()
    schedule(settings, issue)
    clock = FakeClock(SEND_AT + dt.timedelta(minutes=1))
    together = threading.Barrier(4)
    started: list[list[str]] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            with wiring.scheduled_sending(settings, clock=clock) as (campaigns, schedules):
                together.wait(10)
                started.append(start_scheduled(campaigns, schedules))
                run_worker(campaigns, once=True, schedules=schedules)
        except BaseException as error:  # reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == []
    assert sorted(started) == [[], [], [], [DATE]]
    assert campaign_status(settings) == "done"
    recipients = [str(m["To"]) for m in outbox(tmp_path / "outbox")]
    assert len(recipients) == READERS and len(set(recipients)) == READERS
    assert len([e for e in audit_log(settings) if e.action == "started scheduled send"]) == 1


def test_take_due_hands_each_schedule_to_one_caller(database_url: str) -> None:
    """Eight threads taking due schedules at once: each of 20 is taken exactly once, and
    one not yet due by nobody."""
    from newsletter.store.db import open_database, upgrade

    if not database_url.startswith("sqlite"):
        upgrade(database_url)
    clock = FakeClock(SEND_AT)
    db = open_database(database_url)
    try:
        store = DeskStore(db, clock)
        for day in range(1, 21):
            store.schedule(f"2022-10-{day:02d}", "", SEND_AT - dt.timedelta(minutes=day), "e")
        store.schedule("2022-11-01", "", SEND_AT + dt.timedelta(seconds=1), "e")
        together = threading.Barrier(8)
        taken: list[str] = []
        lock = threading.Lock()

        def take() -> None:
            mine = DeskStore(db, clock)
            together.wait(10)
            got = [s.issue_date for s in mine.take_due()]
            with lock:
                taken.extend(got)

        threads = [threading.Thread(target=take) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert sorted(taken) == [f"2022-10-{day:02d}" for day in range(1, 21)]
        waiting = [s.issue_date for s in store.scheduled() if s.started_at is None]
        assert waiting == ["2022-11-01"]
    finally:
        db.close()


def test_a_schedule_failing_preflight_is_not_sent_and_says_why(
    issue: Path, tmp_path: Path
) -> None:
    """A TODO left in the issue: no campaign, a warning and an audit entry by "worker" with
    the reason, and no retry on the next pass; scheduled again once fixed, it is sent."""
    settings = get_settings()
    good = issue.read_text(encoding="utf-8")
    issue.write_text(good.replace("attribution: 转自爱可可爱生活", "attribution: TODO"),
                     encoding="utf-8")
    schedule(settings, issue)
    clock, warnings = FakeClock(SEND_AT), []
    assert worker_pass(settings, clock, warnings) == []
    assert campaign_status(settings) is None
    assert not outbox(tmp_path / "outbox")
    assert len(warnings) == 1
    assert warnings[0].startswith(f"scheduled send {DATE}: not started: ")
    assert "attribution: a TODO is left" in warnings[0]
    assert "schedule it again from the desk" in warnings[0]
    failed = [e for e in audit_log(settings) if e.action == "scheduled send failed"]
    assert [(e.actor, e.target) for e in failed] == [("worker", DATE)]
    assert "a TODO is left" in failed[0].detail
    assert schedules_now(settings)[0].started_at is not None

    clock.advance(minutes=10)
    worker_pass(settings, clock, warnings)
    assert len(warnings) == 1  # left started: not tried on every pass
    assert len(audit_log(settings)) == 1

    issue.write_text(good, encoding="utf-8")
    assert schedule(settings, issue, clock.now + dt.timedelta(minutes=5))  # re-armed
    assert schedules_now(settings)[0].started_at is None
    clock.advance(minutes=5)
    assert [s.outcome for s in worker_pass(settings, clock, warnings)] == ["done"]
    assert len(outbox(tmp_path / "outbox")) == READERS


def test_a_schedule_whose_campaign_was_started_by_hand_starts_nothing(
    issue: Path, tmp_path: Path
) -> None:
    """`send` ran first: the due schedule sends no one again, cannot be moved, and the audit
    log says the campaign was already started."""
    settings = get_settings()
    schedule(settings, issue)
    assert send_issue(settings, str(issue)).outcome == "done"
    warnings: list[str] = []
    worker_pass(settings, FakeClock(SEND_AT), warnings)
    assert len(outbox(tmp_path / "outbox")) == READERS
    assert warnings == []
    entry = audit_log(settings)[0]
    assert (entry.actor, entry.action) == ("worker", "started scheduled send")
    assert "already started (done)" in entry.detail
    assert not schedule(settings, issue, SEND_AT + dt.timedelta(days=1))
