"""Sending the week's best (issue 21): a campaign like any other, keyed ``W20261206``.

The edition's file (``editing/weekly.py``) is checked and rendered as every issue is;
the snapshot takes the weekly readers whose weekday is the edition's (the store's
audience rule for a weekly key), each at their paper limit and with their "For you"
block. ``Campaigns.send`` then sends it exactly once, resumable and reconciled.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from newsletter.editing.preflight import IssueSource, preflight
from newsletter.editing.weekly import WEEKLY_DIR, weekly_path
from newsletter.errors import IssueFileError
from newsletter.model.editions import WEEKDAYS, weekly_key
from newsletter.rendering.renderer import Renderer
from newsletter.sending.campaign import Campaigns, SendPlan, issue_categories
from newsletter.sending.messages import render_missing
from newsletter.sending.personal import Audience


def weekly_renderer(renderer: Renderer) -> Renderer:
    """``renderer`` for a weekly edition: "view in browser" opens ``/weekly/DATE``."""
    return renderer.for_section(WEEKLY_DIR)


@dataclass
class WeeklyPlan(SendPlan):
    """A send plan whose campaign key is the weekly edition's, not the issue's date."""

    key: str = ""

    @property
    def date(self) -> str:
        return self.key

    def question(self) -> str:
        day = self.issue.date
        if self.campaign is None:
            extra = "".join(f"\n  {line}" for line in self.audience.lines())
            return (f"Send the week's best of {day} to {self.recipients:,} weekly readers "
                    f"({WEEKDAYS[day.weekday()]})?{extra}")
        return (f"Continue sending the week's best of {day} ({self.campaign.status}): "
                f"{self.recipients:,} of {self.campaign.total:,} deliveries left?")


def plan_weekly(campaigns: Campaigns, day: dt.date) -> WeeklyPlan:
    """Check the edition dated ``day``, count its readers, render what they get.

    Raises :class:`IssueFileError` when it was not built yet, ``PreflightError`` and
    ``RenderError`` as ``Campaigns.plan`` does.
    """
    path = weekly_path(campaigns.config.issues_dir, day)
    if not path.exists():
        raise IssueFileError(f"{path} does not exist; build it first: "
                             f"newsletter weekly {day} --build")
    renderer = weekly_renderer(campaigns.renderer)
    report = preflight(IssueSource.read(path), renderer, campaigns.checks)
    report.raise_for_errors()
    issue = report.issue
    assert issue is not None  # an invalid file is a preflight error
    key, store = weekly_key(day), campaigns.store
    campaign = store.get(key)
    if campaign is None:
        categories = issue_categories(issue)
        in_use = store.variant_counts(categories, key)
        plan = WeeklyPlan(issue, report.path, None, sum(in_use.values()), report,
                          left_out=store.count_left_out(categories, key),
                          audience=Audience.of(in_use), key=key)
        keys = list(in_use)
    else:
        counts = store.counts(campaign.id)
        plan = WeeklyPlan(issue, report.path, campaign, counts.open + counts.in_doubt, report,
                          key=key)
        keys = store.variants(campaign.id, unsent_only=True)
    plan.rendered = render_missing(renderer, issue, keys, report.rendered,
                                   campaigns.config.size_limit_bytes)
    return plan
