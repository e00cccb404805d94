"""Per-delivery bulk entries: each variant's inline template built once, readers as data.

``BulkMessages`` is also a ``MessageSource``: ``build`` gives the whole single message
(``CampaignMessages``), for a transport or a retry that sends one message at a time.
"""

from __future__ import annotations

from collections.abc import Mapping

from newsletter.errors import CampaignError
from newsletter.mail.bulk import BulkTemplate
from newsletter.mail.message import Recipient, Sender
from newsletter.model.bulk import BulkContent, BulkEntry
from newsletter.model.campaigns import Claim
from newsletter.model.events import CAMPAIGN_TAG, DELIVERY_TAG
from newsletter.rendering.renderer import RenderedIssue
from newsletter.sending.messages import CampaignMessages
from newsletter.tokens import Purpose, make_token


class BulkMessages:
    """Bulk content per variant and each claimed delivery's entry (tokens, headers, tags)."""

    def __init__(
        self,
        single: CampaignMessages,
        templates: dict[str, BulkTemplate],
        campaign_tag: str | None,
    ) -> None:
        self.single = single
        self.templates = templates
        self.campaign_tag = campaign_tag

    @classmethod
    def encode(
        cls,
        rendered: Mapping[str, RenderedIssue],
        sender: Sender,
        label: str,
        secret: str,
        campaign_id: int,
    ) -> BulkMessages:
        """Each rendered variant as an inline template (and as a single-message template)."""
        single = CampaignMessages.encode(rendered, sender, label, secret, campaign_id)
        templates = {key: BulkTemplate(r, sender, label, single.templates[key])
                     for key, r in rendered.items()}
        return cls(single, templates, label)

    def build(self, claim: Claim) -> bytes:
        return self.single.build(claim)

    def content(self, variant: str) -> BulkContent:
        return self._template(variant, None).content

    def _template(self, variant: str, claim: Claim | None) -> BulkTemplate:
        template = self.templates.get(variant)
        if template is None:
            named = f" for delivery {claim.id}" if claim is not None else ""
            raise CampaignError(f"no rendered variant {variant!r}{named}")
        return template

    def entry(self, claim: Claim) -> BulkEntry:
        """The claim's entry; ``NewsletterError`` when it cannot be made (never sent)."""
        template = self._template(claim.variant, claim)
        secret = self.single.secret
        recipient = Recipient(
            address=claim.email,
            delivery_id=f"{self.single.campaign_id}.{claim.id}",
            unsubscribe_token=make_token(secret, Purpose.UNSUBSCRIBE, claim.subscriber_id),
            preferences_token=make_token(secret, Purpose.PREFERENCES, claim.subscriber_id),
        )
        tags = [(DELIVERY_TAG, str(claim.id))]
        if self.campaign_tag:
            tags.append((CAMPAIGN_TAG, self.campaign_tag))
        return template.entry(recipient, tuple(tags))
