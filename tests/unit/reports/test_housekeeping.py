"""The worker's hourly prune: at most once an interval, a failure logged and tried again."""

from __future__ import annotations

import logging

import pytest

from newsletter.errors import DatabaseError
from newsletter.reports.housekeeping import Periodic


def test_runs_at_most_once_an_interval_and_survives_failures(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [0.0]
    calls: list[float] = []

    def task() -> str:
        calls.append(now[0])
        if len(calls) == 2:
            raise DatabaseError("the database is away")
        return "deleted 5 rows"

    periodic = Periodic(task, every=3600, monotonic=lambda: now[0])
    logger = logging.getLogger("newsletter.reports.housekeeping")
    logger.addHandler(caplog.handler)  # the CLI's logging setup stops propagation
    try:
        for moment in (0, 10, 3599, 3600, 3700, 7200):
            now[0] = moment
            periodic()
    finally:
        logger.removeHandler(caplog.handler)
    assert calls == [0, 3600, 7200]
    assert "housekeeping failed (tried again in 3600 s): the database is away" in caplog.text
