"""The daily schedule: which issue ``send --today`` sends, and which dates are too early.

An issue belongs to a calendar day in ``NEWSLETTER_TIMEZONE`` (Asia/Shanghai unless
set), not to the machine's clock zone: cron on a server in UTC still sends the Shanghai
morning's issue. The current time is always passed in, so tests choose the day.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from newsletter import wiring
from newsletter.errors import CampaignError
from newsletter.issues.files import path_for
from newsletter.settings import Settings
from newsletter.store.campaigns import CampaignStore

TodayAction = Literal["send", "no_issue", "already_sent"]


def local_date(settings: Settings, now: dt.datetime) -> dt.date:
    """The calendar date at the aware instant ``now`` in ``NEWSLETTER_TIMEZONE``."""
    return now.astimezone(settings.zone()).date()


def check_not_future(settings: Settings, issue_date: dt.date, now: dt.datetime) -> None:
    """Raise :class:`CampaignError` when ``issue_date`` is after today in the time zone.

    Sending tomorrow's issue tonight is nearly always a slip of the finger (a wrong date
    in the file name, or a cron line run by hand); ``send --force`` sends it anyway.
    """
    today = local_date(settings, now)
    if issue_date > today:
        raise CampaignError(
            f"the issue is dated {issue_date.isoformat()}, after today "
            f"({today.isoformat()} in {settings.timezone}); pass --force to send it now"
        )


@dataclass(frozen=True)
class TodayPlan:
    """What ``send --today`` does: send ``path``, or nothing and why (``message``)."""

    date: dt.date
    action: TodayAction
    message: str
    path: Path | None = None


def plan_today(settings: Settings, now: dt.datetime) -> TodayPlan:
    """Today's issue in ``NEWSLETTER_ISSUES_DIR``, unless there is none or it was sent.

    A campaign that is paused or still has deliveries open is not "sent": it is resumed.
    Raises ``DatabaseError`` when the database cannot be read.
    """
    today = local_date(settings, now)
    day = today.isoformat()
    path = path_for(settings.issues_dir, day)
    if path is None:
        return TodayPlan(
            today, "no_issue",
            f"no issue for today ({day} in {settings.timezone}): no "
            f"{settings.issues_dir / (day + '.yaml')}; nothing to send",
        )
    with wiring.database(settings) as engine:
        campaign = CampaignStore(engine).get(day)
    if campaign is not None and campaign.status == "done":
        return TodayPlan(
            today, "already_sent", f"campaign {day}: already sent (done); nothing to send", path
        )
    return TodayPlan(today, "send", f"sending today's issue {day} ({path})", path)
