"""List hygiene, off by default, always shown as a dry run first.

- **Pending sign-ups** older than N days are removed (never confirmed: nothing is kept).
- **Sunset**: readers with no open or click in the last N issues (see
  ``store/hygiene.py``) get one email with a "Keep me subscribed" button (a page that
  asks for a POST, so a link scanner cannot press it); those who do not press it within
  the grace period are unsubscribed with reason "inactive". It runs only when the last N
  issues recorded opens or clicks: without SES open and click tracking every reader
  would look inactive.

:meth:`Hygiene.plan` says what :meth:`Hygiene.apply` would do, and changes nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from email.utils import parseaddr
from typing import Protocol

from newsletter.errors import CampaignError
from newsletter.mail.message import Sender
from newsletter.mail.transactional import transactional_message
from newsletter.rendering.renderer import Renderer
from newsletter.store.hygiene import Reader
from newsletter.tokens import Purpose, make_token, read_token
from newsletter.transports import Transport
from newsletter.vocabulary import SubscriberStatus

INACTIVE_REASON = "inactive: no open or click in the last {n} issues; did not ask to stay"


class HygieneData(Protocol):
    def stale_pending(self, before: dt.datetime) -> list[Reader]: ...
    def remove_pending(self, readers: list[Reader], before: dt.datetime) -> int: ...
    def last_campaigns(self, count: int) -> list[tuple[int, str, dt.datetime, int]]: ...
    def inactive(self, campaign_ids: list[int], since: dt.datetime) -> list[Reader]: ...
    def asked(self, reader: Reader) -> None: ...
    def unanswered(self, before: dt.datetime) -> list[Reader]: ...
    def keep(self, subscriber_id: int) -> bool: ...


class StatusSetter(Protocol):
    def set_status(self, subscriber_id: int, status: SubscriberStatus, reason: str) -> object:
        ...


@dataclass(frozen=True)
class Rules:
    pending_days: int = 0  # 0: off
    sunset_issues: int = 0  # 0: off
    grace_days: int = 14


@dataclass
class Plan:
    """What hygiene would do (or did): who, and why not when a rule could not run."""

    pending: list[Reader] = field(default_factory=list)
    ask: list[Reader] = field(default_factory=list)  # re-engagement emails to send
    unsubscribe: list[Reader] = field(default_factory=list)  # asked, grace over, no answer
    notes: list[str] = field(default_factory=list)


class Hygiene:
    def __init__(self, data: HygieneData, people: StatusSetter, rules: Rules,
                 clock: Callable[[], dt.datetime], mailer: KeepMailer | None = None,
                 transport: Transport | None = None) -> None:
        self.data, self.people, self.rules, self.clock = data, people, rules, clock
        self.mailer, self.transport = mailer, transport

    def plan(self) -> Plan:
        now = self.clock()
        plan = Plan()
        if self.rules.pending_days:
            before = now - dt.timedelta(days=self.rules.pending_days)
            plan.pending = self.data.stale_pending(before)
        n = self.rules.sunset_issues
        if n:
            recent = self.data.last_campaigns(n)
            untracked = [date for _, date, _, tracked in recent if not tracked]
            if len(recent) < n:
                plan.notes.append(f"sunset: only {len(recent)} issues sent, {n} needed")
            elif untracked:
                plan.notes.append(
                    "sunset: not run, no opens or clicks were recorded for "
                    f"{', '.join(untracked)}; turn on SES open and click tracking first")
            else:
                oldest = min(at for _, _, at, _ in recent)
                plan.ask = self.data.inactive([i for i, _, _, _ in recent], oldest)
            grace = now - dt.timedelta(days=self.rules.grace_days)
            plan.unsubscribe = self.data.unanswered(grace)
        return plan

    def apply(self, plan: Plan) -> Plan:
        """Do what ``plan`` says; the plan of what was done."""
        if plan.ask and (self.mailer is None or self.transport is None):
            raise CampaignError("re-engagement emails need a transport; configure one")
        before = self.clock() - dt.timedelta(days=self.rules.pending_days)
        self.data.remove_pending(plan.pending, before)
        for reader in plan.ask:
            assert self.mailer is not None and self.transport is not None
            self.transport.send(self.mailer.build(reader, self.clock()), reader.email)
            self.data.asked(reader)
        reason = INACTIVE_REASON.format(n=self.rules.sunset_issues)
        for reader in plan.unsubscribe:
            self.people.set_status(reader.id, "unsubscribed", reason)
        return plan


class KeepMailer:
    """The re-engagement email: the issue templates' pipeline, one button."""

    def __init__(self, renderer: Renderer, sender: Sender, secret: str, base_url: str,
                 issues: int, grace_days: int) -> None:
        self.renderer, self.sender, self.secret = renderer, sender, secret
        self.base_url = base_url.rstrip("/")
        self.issues, self.grace_days = issues, grace_days

    def build(self, reader: Reader, when: dt.datetime) -> bytes:
        stamp = when.timestamp()
        keep = f"{self.base_url}/keep/{make_token(self.secret, Purpose.KEEP, reader.id, stamp)}"
        unsubscribe = self.sender.unsubscribe_url(
            make_token(self.secret, Purpose.UNSUBSCRIBE, reader.id, stamp))
        name = parseaddr(self.sender.from_address)[0] or "Newsletter"
        # A statement, not a question: filters score subjects that end with "?" (rspamd).
        subject = f"{name}：请确认是否继续订阅 / Tell us to keep sending the digest"
        html, text = self.renderer.render_email("keep", {
            "lang": "zh-CN", "subject": subject,
            "preheader": "按一下按钮继续订阅 · One press keeps you subscribed",
            "keep_url": keep, "unsubscribe_url": unsubscribe, "issues": self.issues,
            "grace_days": self.grace_days,
        })
        return transactional_message(self.sender, reader.email, subject, when, html, text,
                                     unsubscribe_url=unsubscribe)


def keep(token: str, secret: str, data: HygieneData, clock: Callable[[], dt.datetime],
         fallbacks: Sequence[str] = ()) -> bool:
    """The reader named by a keep token stays: whether they had been asked.
    Raises ``TokenError`` for a bad token."""
    subscriber_id = read_token(secret, Purpose.KEEP, token, now=clock().timestamp(),
                               fallbacks=fallbacks)
    return data.keep(subscriber_id)
