"""Per-delivery messages: each variant rendered and encoded once, recipients spliced in."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterable, Mapping
from email.utils import format_datetime

from newsletter.errors import CampaignError
from newsletter.issues.model import Issue
from newsletter.mail.message import MessageTemplate, Recipient, Sender
from newsletter.model.campaigns import Claim
from newsletter.rendering.renderer import RenderedIssue, Renderer
from newsletter.tokens import Purpose, make_token
from newsletter.vocabulary import Variant


def render_missing(
    renderer: Renderer,
    issue: Issue,
    variant_keys: Iterable[str],
    rendered: Mapping[str, RenderedIssue],
    size_limit: int,
) -> dict[str, RenderedIssue]:
    """``rendered`` plus each variant in ``variant_keys`` it lacks, rendered once (cut to
    ``size_limit`` bytes of HTML); keyed by ``Variant.key``. Raises ``RenderError``."""
    missing = [Variant.from_key(key) for key in set(variant_keys) if key not in rendered]
    made = renderer.render_all(issue, missing, size_limit)
    return {**rendered, **{variant.key: r for variant, r in made.items()}}


class CampaignMessages:
    """Builds each claimed delivery's message from its variant's pre-encoded template.

    Each variant is rendered and encoded once; per recipient only the address, the two
    tokens and the delivery id ``{campaign_id}.{delivery_id}`` are spliced in. The Date
    header is formatted at most once a second.
    """

    def __init__(
        self,
        templates: dict[str, MessageTemplate],
        secret: str,
        campaign_id: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.templates = templates
        self.secret = secret
        self.campaign_id = campaign_id
        self.clock = clock
        self._date: tuple[int, str] = (-1, "")

    @classmethod
    def encode(
        cls,
        rendered: Mapping[str, RenderedIssue],
        sender: Sender,
        label: str,
        secret: str,
        campaign_id: int,
    ) -> CampaignMessages:
        """Encode each rendered variant once, as the template of its readers' messages."""
        templates = {key: MessageTemplate(r, sender, label) for key, r in rendered.items()}
        return cls(templates, secret, campaign_id)

    def date(self) -> str:
        now = self.clock()
        second = int(now)
        cached = self._date
        if cached[0] != second:
            cached = (second, format_datetime(dt.datetime.fromtimestamp(second, dt.UTC)))
            self._date = cached
        return cached[1]

    def build(self, claim: Claim) -> bytes:
        template = self.templates.get(claim.variant)
        if template is None:
            raise CampaignError(f"no rendered variant {claim.variant!r} for delivery {claim.id}")
        recipient = Recipient(
            address=claim.email,
            delivery_id=f"{self.campaign_id}.{claim.id}",
            unsubscribe_token=make_token(self.secret, Purpose.UNSUBSCRIBE, claim.subscriber_id),
            preferences_token=make_token(self.secret, Purpose.PREFERENCES, claim.subscriber_id),
        )
        return template.build(recipient, self.date())


