"""Each reader's own part of a send (issue 21).

:class:`Audience` says who gets what, in words: papers per email, and the readers a daily
send leaves for their weekly edition or their pause (``send``'s plan and summary and
``status`` print these lines). :class:`PersonalMessages` builds messages with each
reader's "For you" block: the papers their follows match, named with what matched.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field

from newsletter.issues.model import FeaturedPaper, Issue
from newsletter.mail.message import Sender
from newsletter.mail.personal import PersonalRecipient, PersonalTemplate
from newsletter.model.campaigns import Claim
from newsletter.model.editions import WEEKDAYS, Follow
from newsletter.model.follows import Matcher, PaperText
from newsletter.rendering.for_you_parts import ForYouParts, render_for_you
from newsletter.rendering.renderer import RenderedIssue, Renderer, select_papers
from newsletter.sending.messages import CampaignMessages
from newsletter.tokens import Purpose, make_token
from newsletter.vocabulary import Variant


@dataclass(frozen=True)
class Audience:
    """Readers per paper limit (0: every paper), and those the daily issue waits out."""

    by_limit: dict[int, int] = field(default_factory=dict)
    weekly: dict[int, int] = field(default_factory=dict)
    paused: int = 0

    @classmethod
    def of(cls, by_variant: Mapping[str, int], weekly: Mapping[int, int] | None = None,
           paused: int = 0) -> Audience:
        """From counts per variant key (the plan's or a campaign's deliveries)."""
        limits: dict[int, int] = {}
        for key, n in by_variant.items():
            limit = Variant.from_key(key).max_papers
            limits[limit] = limits.get(limit, 0) + n
        return cls(dict(sorted(limits.items(), key=lambda kv: (kv[0] != 0, -kv[0]))),
                   dict(weekly or {}), paused)

    def lines(self) -> list[str]:
        """One line per paper limit breakdown and per kind of reader left out; none when
        every reader gets every paper and nobody waits."""
        out = []
        if any(self.by_limit.get(limit) for limit in self.by_limit if limit):
            parts = [f"{n:,} every paper" if not limit else f"{n:,} at most {limit}"
                     for limit, n in self.by_limit.items() if n]
            out.append("papers per email: " + ", ".join(parts))
        if self.weekly or self.paused:
            waiting = []
            if self.weekly:
                days = ", ".join(f"{WEEKDAYS[day]} {n:,}" for day, n in self.weekly.items())
                waiting.append(f"{sum(self.weekly.values()):,} weekly readers ({days}) get "
                               "the week's best instead")
            if self.paused:
                waiting.append(f"{self.paused:,} paused")
            out.append("not in this daily send: " + "; ".join(waiting))
        return out


@dataclass(frozen=True)
class _PersonalVariant:
    template: PersonalTemplate
    parts: ForYouParts
    matcher: Matcher


def paper_texts(issue: Issue, variant: Variant) -> list[PaperText]:
    """The papers of ``variant`` as follows see them, in the variant's order."""
    featured, notable = select_papers(issue, variant)
    found = []
    for paper in [*featured, *notable]:
        words = [paper.title, paper.title_zh or ""]
        if isinstance(paper, FeaturedPaper):
            words += [paper.summary_zh or "", paper.abstract]
        found.append(PaperText(paper.arxiv_id, "\n".join(words), tuple(paper.authors),
                               tuple(paper.affiliations)))
    return found


class PersonalMessages:
    """Each claimed delivery's message, with the reader's "For you" block when their
    follows match papers in it (the others get :class:`CampaignMessages`' message).

    A variant's personal template, block pieces and matcher are made the first time one
    of its readers needs them, once (the engine builds messages on several threads).
    """

    def __init__(
        self, base: CampaignMessages, issue: Issue, rendered: Mapping[str, RenderedIssue],
        renderer: Renderer, sender: Sender, label: str,
        follows: Mapping[int, tuple[Follow, ...]],
    ) -> None:
        self.base = base
        self.issue = issue
        self.rendered = rendered
        self.renderer = renderer
        self.sender = sender
        self.label = label
        self.follows = follows
        self._variants: dict[str, _PersonalVariant | None] = {}
        self._lock = threading.Lock()

    def _variant(self, key: str) -> _PersonalVariant | None:
        if key in self._variants:
            return self._variants[key]
        with self._lock:
            if key not in self._variants:
                self._variants[key] = self._make(key)
            return self._variants[key]

    def _make(self, key: str) -> _PersonalVariant | None:
        rendered = self.rendered.get(key)
        if rendered is None or rendered.for_you_at is None:
            return None
        variant = Variant.from_key(key)
        return _PersonalVariant(
            PersonalTemplate(rendered, self.sender, self.label),
            render_for_you(self.renderer, self.issue, variant),
            Matcher(paper_texts(self.issue, variant)),
        )

    def block(self, claim: Claim) -> tuple[str, str] | None:
        """The claim's reader's (html, text) "For you" block; None when they get none."""
        follows = self.follows.get(claim.subscriber_id)
        personal = self._variant(claim.variant) if follows else None
        chosen = personal.matcher.chosen(follows) if personal and follows else []
        if personal is None or not chosen:
            return None
        return personal.parts.block(chosen)

    def build(self, claim: Claim) -> bytes:
        block = self.block(claim)
        personal = self._variant(claim.variant) if block is not None else None
        if block is None or personal is None:
            return self.base.build(claim)
        html, text = block
        secret = self.base.secret
        recipient = PersonalRecipient(
            address=claim.email,
            delivery_id=f"{self.base.campaign_id}.{claim.id}",
            unsubscribe_token=make_token(secret, Purpose.UNSUBSCRIBE, claim.subscriber_id),
            preferences_token=make_token(secret, Purpose.PREFERENCES, claim.subscriber_id),
            html_block=html,
            text_block=text,
        )
        return personal.template.build(recipient, self.base.date())
