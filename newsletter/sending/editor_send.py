"""``send-test``: an issue to the editors as readers get it, touching no campaign.

The subject is the readers' own ("[TEST]" before it scored 0.5 in spam filters, and
editors should see what readers get); the ``X-Newsletter-Test`` header names the variant.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import format_datetime

from newsletter.errors import ConfigurationError, InvalidAddressError, TransportError
from newsletter.mail.message import MessageTemplate, Recipient
from newsletter.model.addresses import normalize_email
from newsletter.sending.campaign import Campaigns, issue_categories
from newsletter.sending.messages import render_missing
from newsletter.tokens import NO_SUBSCRIBER_ID, Purpose, make_token
from newsletter.vocabulary import Variant

TEST_HEADER = "X-Newsletter-Test"
# Test messages carry tokens for an id no subscriber can have (the web app answers its
# links like any unknown subscriber's).
TEST_SUBSCRIBER_ID: int = NO_SUBSCRIBER_ID


@dataclass(frozen=True)
class TestSend:
    address: str
    variant: str
    subject: str
    provider_id: str | None
    error: str | None = None


def checked_addresses(to: list[str] | None, editors: tuple[str, ...] = ()) -> list[str]:
    """The normalised addresses a test goes to: ``to``, else ``editors``.

    Raises :class:`InvalidAddressError` naming a bad address of ``to``,
    :class:`ConfigurationError` for a bad one in ``NEWSLETTER_EDITORS`` or when there is
    nobody to send to.
    """
    addresses: list[str] = []
    for address in to or editors:
        try:
            addresses.append(normalize_email(address))
        except InvalidAddressError as err:
            if to:
                raise InvalidAddressError(f"nothing was sent: --to {err}") from None
            raise ConfigurationError(f"nothing was sent: NEWSLETTER_EDITORS: {err}") from None
    if not addresses:
        raise ConfigurationError(
            "no addresses: pass --to EMAIL or set NEWSLETTER_EDITORS, e.g. '[\"me@example.org\"]'"
        )
    return addresses


def send_test(
    campaigns: Campaigns,
    ref: str,
    to: list[str] | None = None,
    *,
    all_variants: bool = False,
    warn: Callable[[str], None] | None = None,
) -> list[TestSend]:
    """Send the issue to editors as readers get it; no campaign is touched.

    ``to`` defaults to the configured editors (``NEWSLETTER_EDITORS``). With
    ``all_variants`` each editor gets one message per variant that active subscribers
    would receive (its key in the ``X-Newsletter-Test`` header), otherwise the full
    bilingual issue. Tokens name
    ``TEST_SUBSCRIBER_ID``, never a real subscriber. Every address is checked (and
    normalised) before anything is sent: ``InvalidAddressError`` for a bad one in ``to``,
    ``ConfigurationError`` for a bad editor or when there is nobody to send to (see
    :func:`checked_addresses`). ``PreflightError`` when the preflight checks find an error;
    their warnings go to ``warn``.
    """
    addresses = checked_addresses(to, campaigns.config.editors)
    secret = campaigns.secret()
    report = campaigns.check(ref)
    report.raise_for_errors()
    for warning in report.warnings:
        if warn is not None:
            warn(str(warning))
    issue = report.issue
    assert issue is not None  # an invalid file is a preflight error
    keys = [Variant().key]
    if all_variants:
        in_use = campaigns.store.variant_counts(issue_categories(issue))
        keys = sorted(in_use) or keys
    rendered = render_missing(campaigns.renderer, issue, keys, report.rendered,
                              campaigns.config.size_limit_bytes)
    transport = campaigns.transport()
    sender, date = campaigns.sender, format_datetime(dt.datetime.now(dt.UTC))
    # Every test message names the same subscriber, so its tokens are made once.
    unsubscribe_token = make_token(secret, Purpose.UNSUBSCRIBE, TEST_SUBSCRIBER_ID)
    preferences_token = make_token(secret, Purpose.PREFERENCES, TEST_SUBSCRIBER_ID)
    results: list[TestSend] = []
    for key in keys:
        template = MessageTemplate(rendered[key], sender, f"test-{issue.date}",
                                   extra_headers=((TEST_HEADER, key),))
        subject = rendered[key].subject
        for n, address in enumerate(addresses, 1):
            recipient = Recipient(
                address=address,
                delivery_id=f"test.{issue.date}.{key}.{n}",
                unsubscribe_token=unsubscribe_token,
                preferences_token=preferences_token,
            )
            try:
                provider_id = transport.send(template.build(recipient, date), address)
            except TransportError as err:
                results.append(TestSend(address, key, subject, None, str(err)))
            else:
                results.append(TestSend(address, key, subject, provider_id))
    return results


