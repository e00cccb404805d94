"""Per-delivery messages: each variant rendered and encoded once, recipients spliced in."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterable
from email.utils import format_datetime

from newsletter import wiring
from newsletter.errors import CampaignError
from newsletter.issues.model import Issue
from newsletter.mail.message import MessageTemplate, Recipient, Sender
from newsletter.model.campaigns import Claim
from newsletter.rendering.renderer import RenderedIssue
from newsletter.settings import Settings
from newsletter.tokens import Purpose, make_token
from newsletter.vocabulary import Variant


def render_variants(
    issue: Issue, variant_keys: Iterable[str], settings: Settings
) -> dict[str, RenderedIssue]:
    """Each distinct variant rendered once, keyed by ``Variant.key``."""
    variants = [Variant.from_key(key) for key in set(variant_keys)]
    rendered = wiring.renderer(settings).render_all(issue, variants, settings.size_limit_bytes)
    return {variant.key: r for variant, r in rendered.items()}


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
    def render(
        cls,
        issue: Issue,
        variant_keys: Iterable[str],
        settings: Settings,
        campaign_id: int,
        sender: Sender | None = None,
    ) -> CampaignMessages:
        """Render every variant in ``variant_keys`` (raises ``RenderError``) and encode it."""
        rendered = render_variants(issue, variant_keys, settings)
        sender = sender or wiring.sender(settings)
        label = issue.date.isoformat()
        templates = {key: MessageTemplate(r, sender, label) for key, r in rendered.items()}
        return cls(templates, settings.signing_key(), campaign_id)

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


