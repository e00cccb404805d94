"""Per-delivery bulk entries: each variant's inline template built once, readers as data.

``BulkMessages`` is also a ``MessageSource``: ``build`` gives the whole single message
(``CampaignMessages``, or with ``personal`` the reader's own with their "For you" block),
for a transport or a retry that sends one message at a time. With ``personal`` (a campaign
in which readers have follows), each entry carries the reader's block as template data.
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
from newsletter.sending.personal import PersonalMessages
from newsletter.tokens import Purpose, make_token


class BulkMessages:
    """Bulk content per variant and each claimed delivery's entry (tokens, headers, tags)."""

    def __init__(
        self,
        single: CampaignMessages,
        templates: dict[str, BulkTemplate],
        campaign_tag: str | None,
        personal: PersonalMessages | None = None,
    ) -> None:
        self.single = single
        self.templates = templates
        self.campaign_tag = campaign_tag
        self.personal = personal

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

    @classmethod
    def for_campaign(
        cls, personal: PersonalMessages, sender: Sender, label: str, *, blocks: bool
    ) -> BulkMessages:
        """Each variant of ``personal`` as an inline template; with ``blocks`` (some reader
        has follows) with a place for the reader's "For you" block (issue 21), filled per
        entry from ``personal``."""
        single = personal.base
        templates = {key: BulkTemplate(r, sender, label, single.templates[key], blocks=blocks)
                     for key, r in personal.rendered.items()}
        return cls(single, templates, label, personal)

    def build(self, claim: Claim) -> bytes:
        return (self.personal or self.single).build(claim)

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
        block = self.personal.block(claim) if self.personal and template.blocks else None
        return template.entry(recipient, tuple(tags), block or ("", ""))
