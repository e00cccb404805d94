"""A reader's "More like this" and "Not for me" about one paper (issue 21), and the
one-press follow of its authors or its category that "More like this" offers.

The links in the email carry the reader's preferences token (signed, spliced in per
reader like every token), the issue's date and the paper's arXiv id. A link counts only
for a reader the issue was sent to and a paper in it; anything else is "not valid", the
same words for every case. Recording happens on POST only (mail scanners follow GETs).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from newsletter.errors import (
    InvalidPreferencesError,
    IssueFileError,
    IssueValidationError,
    TokenError,
    UnknownSubscriberError,
)
from newsletter.issues.loader import load_issue
from newsletter.issues.model import Issue, Paper
from newsletter.model.campaigns import Campaign
from newsletter.model.editions import Follow, ReaderPreferences, parse_follows, weekly_key
from newsletter.model.subscribers import Subscriber
from newsletter.store.campaigns import CampaignStore
from newsletter.store.editions import PreferenceStore
from newsletter.store.paper_feedback import FeedbackKind, PaperFeedbackStore
from newsletter.store.subscribers import SubscriberStore
from newsletter.tokens import Purpose, read_token

_NOT_VALID = "this link is not valid"


@dataclass(frozen=True)
class FeedbackTarget:
    """What a feedback link names: the reader, the campaign and the paper."""

    subscriber: Subscriber
    campaign_id: int
    issue_date: str
    paper: Paper
    category_name: str


@dataclass(frozen=True)
class Followed:
    """What a follow press did: ``done`` ("author", "category", "already") or ``problem``."""

    done: str = ""
    what: str = ""
    problem: str = ""


class PaperFeedback:
    """Feedback links over the stores; ``fallbacks`` are older signing keys still valid."""

    def __init__(
        self, secret: str, fallbacks: Sequence[str], subscribers: SubscriberStore,
        campaigns: CampaignStore, feedback: PaperFeedbackStore, preferences: PreferenceStore,
        clock: Callable[[], dt.datetime],
    ) -> None:
        self.secret = secret
        self.fallbacks = fallbacks
        self.subscribers = subscribers
        self.campaigns = campaigns
        self.feedback = feedback
        self.preferences = preferences
        self.clock = clock

    def issue(self, token: str, issue_date: str) -> tuple[Subscriber, Campaign, Issue]:
        """The reader, and the campaign and issue a link names. Raises :class:`TokenError`
        for a bad token or an issue that was not sent to the reader,
        :class:`UnknownSubscriberError` for an erased reader."""
        subscriber_id = read_token(self.secret, Purpose.PREFERENCES, token,
                                   now=self.clock().timestamp(), fallbacks=self.fallbacks)
        subscriber = self.subscribers.get(subscriber_id)
        if subscriber is None:
            raise UnknownSubscriberError("this link is for an address no longer on the list")
        # The links of a weekly edition carry its date too: the reader got one of the two.
        campaign = next((c for c in map(self.campaigns.get, _keys(issue_date))
                         if c is not None and self.feedback.received(c.id, subscriber_id)),
                        None)
        if campaign is None:
            raise TokenError(_NOT_VALID)
        try:
            issue = load_issue(Path(campaign.issue_path))
        except (IssueFileError, IssueValidationError) as err:
            raise TokenError("this issue is no longer available") from err
        return subscriber, campaign, issue

    def target(self, token: str, issue_date: str, arxiv_id: str) -> FeedbackTarget:
        """The reader, campaign and paper a link names; raises as :meth:`issue` does, and
        :class:`TokenError` for a paper not in the issue."""
        subscriber, campaign, issue = self.issue(token, issue_date)
        paper = next((p for p in issue.papers if p.arxiv_id == arxiv_id), None)
        if paper is None:
            raise TokenError(_NOT_VALID)
        name = issue.categories[paper.category].label("both") if (
            paper.category in issue.categories) else ""
        return FeedbackTarget(subscriber, campaign.id, campaign.issue_date, paper, name)

    def record(self, target: FeedbackTarget, kind: FeedbackKind) -> None:
        """Keep the reader's feedback on the paper (a later press replaces it)."""
        self.feedback.record(target.campaign_id, target.subscriber.id, target.paper.arxiv_id,
                             kind)

    def follow(self, target: FeedbackTarget, choice: str) -> Followed:
        """Follow one of the paper's authors (``author:NAME``) or its category
        (``category:CODE``); anything else is a problem, and so is one follow too many."""
        kind, _, value = choice.partition(":")
        paper, reader = target.paper, target.subscriber
        if kind == "category" and value == paper.category:
            if not reader.categories or value in reader.categories:
                return Followed("already", value)
            self.subscribers.set_preferences(
                reader.id, categories=reader.categories | {value}, language=reader.language,
                reason="more like this")
            return Followed("category", value)
        if kind == "author" and value in paper.authors:
            prefs = self.preferences.get(reader.id)
            if any(f.kind == "author" and f.text.casefold() == value.casefold()
                   for f in prefs.follows):
                return Followed("already", value)
            try:
                follows = parse_follows("; ".join(
                    str(f) for f in (*prefs.follows, Follow("author", value))))
            except InvalidPreferencesError as err:
                return Followed(problem=str(err))
            self.preferences.set(reader.id, ReaderPreferences(
                prefs.frequency, prefs.max_papers, follows), "more like this")
            return Followed("author", value)
        return Followed(problem="choose one of the paper's authors or its category")


def _keys(issue_date: str) -> list[str]:
    """The campaign keys a link's date may name: the daily issue's, the weekly edition's."""
    try:
        return [issue_date, weekly_key(dt.date.fromisoformat(issue_date))]
    except ValueError:
        return []
