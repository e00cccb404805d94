"""The daily schedule: which issue ``send --today`` sends, and which dates are too early.

An issue belongs to a calendar day in ``NEWSLETTER_TIMEZONE`` (Asia/Shanghai unless
set), not to the machine's clock zone: cron on a server in UTC still sends the Shanghai
morning's issue. The current time is always passed in, so tests choose the day. An issue
scheduled from the desk and not yet started is left to ``newsletter worker``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

from newsletter.errors import CampaignError, ConfigurationError
from newsletter.issues.files import path_for
from newsletter.sending.config import SendConfig
from newsletter.store.campaigns import CampaignStore

TodayAction = Literal["send", "no_issue", "already_sent", "scheduled"]


class ScheduledSend(Protocol):
    """A send scheduled from the desk (the desk's store's ``Schedule``)."""

    @property
    def issue_date(self) -> str: ...

    @property
    def send_at(self) -> dt.datetime: ...

    @property
    def started_at(self) -> dt.datetime | None: ...


class ScheduleBook(Protocol):
    """The scheduled sends (``wiring.schedules``)."""

    def scheduled(self) -> Sequence[ScheduledSend]:
        """Every schedule, started or not."""
        ...


def local_date(config: SendConfig, now: dt.datetime) -> dt.date:
    """The calendar date at the aware instant ``now`` in ``NEWSLETTER_TIMEZONE``."""
    return now.astimezone(config.zone).date()


def check_not_future(config: SendConfig, issue_date: dt.date, now: dt.datetime) -> None:
    """Raise :class:`CampaignError` when ``issue_date`` is after today in the time zone.

    Sending tomorrow's issue tonight is nearly always a slip of the finger (a wrong date
    in the file name, or a cron line run by hand); ``send --force`` sends it anyway.
    """
    today = local_date(config, now)
    if issue_date > today:
        raise CampaignError(
            f"the issue is dated {issue_date.isoformat()}, after today "
            f"({today.isoformat()} in {config.timezone}); pass --force to send it now"
        )


@dataclass(frozen=True)
class TodayPlan:
    """What ``send --today`` does: send ``path``, or nothing and why (``message``)."""

    date: dt.date
    action: TodayAction
    message: str
    path: Path | None = None


def todays_file(config: SendConfig, now: dt.datetime) -> TodayPlan:
    """Today's issue file, or why there is nothing to send; reads no database.

    Raises :class:`ConfigurationError` when ``NEWSLETTER_ISSUES_DIR`` is not a folder: a
    cron job with the wrong setting or working folder would otherwise report a quiet day,
    every day.
    """
    if not config.issues_dir.is_dir():
        where = config.issues_dir.resolve()
        raise ConfigurationError(
            f"NEWSLETTER_ISSUES_DIR ({config.issues_dir}) is not a folder: nothing at "
            f"{where} (relative paths start from the working folder, {Path.cwd()}). Set it "
            "to the absolute path of the issue files, e.g. /srv/newsletter/issues."
        )
    today = local_date(config, now)
    day = today.isoformat()
    path = path_for(config.issues_dir, day)
    if path is None:
        return TodayPlan(
            today, "no_issue",
            f"no issue for today ({day} in {config.timezone}): no "
            f"{config.issues_dir / (day + '.yaml')}; nothing to send",
        )
    return TodayPlan(today, "send", f"sending today's issue {day} ({path})", path)


def plan_today(
    config: SendConfig, store: CampaignStore, now: dt.datetime,
    schedules: ScheduleBook | None = None,
) -> TodayPlan:
    """Today's issue in ``NEWSLETTER_ISSUES_DIR``, unless there is none, it was sent, or
    it is scheduled from the desk and not started yet (the worker sends it then).

    A campaign that is paused or still has deliveries open is not "sent": it is resumed.
    A schedule that has started leaves the decision to its campaign, as for any other.
    Raises ``DatabaseError`` when the database cannot be read.
    """
    found = todays_file(config, now)
    if found.path is None:
        return found
    today, day, path = found.date, found.date.isoformat(), found.path
    waiting = [s for s in (schedules.scheduled() if schedules is not None else [])
               if s.issue_date == day and s.started_at is None]
    if waiting:
        at = waiting[0].send_at.astimezone(config.zone)
        when = at.strftime("%H:%M") if at.date() == today else at.strftime("%Y-%m-%d %H:%M")
        return TodayPlan(
            today, "scheduled",
            f"today's issue {day}: scheduled for {when} from the desk; the worker sends it "
            f"({config.timezone} time)", path,
        )
    campaign = store.get(day)
    if campaign is not None and campaign.status == "done":
        return TodayPlan(
            today, "already_sent", f"campaign {day}: already sent (done); nothing to send", path
        )
    return TodayPlan(today, "send", f"sending today's issue {day} ({path})", path)
