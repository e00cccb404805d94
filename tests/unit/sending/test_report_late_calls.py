"""The send summary names the bulk calls that left late on a new slot (issue #23): rate
lost that the operator should see, not only the bench."""

from __future__ import annotations

import datetime as dt

from newsletter.model.campaigns import Campaign, DeliveryCounts
from newsletter.sending.plan import RunResult
from newsletter.sending.report import SendSummary

CAMPAIGN = Campaign(id=1, issue_date="2022-09-07", issue_path="issues/2022-09-07.yaml",
                    status="done", paused_reason="", total=100,
                    created_at=dt.datetime(2022, 9, 7, tzinfo=dt.UTC), finished_at=None)


def summary(late_calls: int) -> list[str]:
    return SendSummary(CAMPAIGN, DeliveryCounts(sent=100), "done",
                       run=RunResult(sent=100, elapsed=2.0, late_calls=late_calls)).lines()


def test_late_calls_are_named_with_what_they_cost() -> None:
    lines = summary(3)
    late = [line for line in lines if "bulk calls" in line]
    assert late == ["3 bulk calls were ready after their slot of the send rate and took a "
                    "later one: rate lost (this process fell behind: CPU, database or a "
                    "pause)"]
    assert lines.index(late[0]) == next(
        n for n, line in enumerate(lines) if line.startswith("this run:")) + 1


def test_a_run_without_late_calls_says_nothing_of_them() -> None:
    assert not any("bulk calls" in line for line in summary(0))
