"""The subscription workflow: subscribe (double opt-in), confirm, unsubscribe, preferences.

Pure logic over a subscriber store, a :class:`~newsletter.transports.Transport` and a
clock; the web app (``web/subscription.py``) only turns HTTP into these calls. Decisions, and why:

- **No enumeration.** ``subscribe`` returns an :class:`SignupOutcome` for logs and tests only;
  callers must show the same page whatever it is, and the web app runs it after the
  response has been sent so that its duration does not tell either.
- **At most one confirmation per address per 10 minutes** (``confirmation_sent_at``), so
  the form cannot be used to flood someone's inbox. The check and the record are one
  conditional UPDATE, so it holds with several processes signing one address up at once.
- **Active** subscribers asking again get nothing. **Suppressed** addresses (bounced,
  complained, erased, or suppressed by an operator) get nothing, ever.
- **Unsubscribed** readers may come back through the web form: they get a new
  confirmation email and are active again only once they follow it. A confirmation link
  from before they unsubscribed does not re-activate them (mail scanners follow old links).
- **A link is bound to its sign-up**: only the link mailed for the latest sign-up
  confirms, and it applies the choices made in that sign-up. Until then a pending or
  unsubscribed reader keeps their stored choices, so a stranger typing their address into
  the form changes nothing. The web app confirms on POST from a page with one button.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Sequence
from email.utils import parseaddr
from enum import StrEnum
from typing import Protocol

from newsletter.errors import (
    SubscriberExistsError,
    SuppressedAddressError,
    UnknownSubscriberError,
)
from newsletter.mail.message import Sender
from newsletter.mail.transactional import transactional_message
from newsletter.model.engagement import LinkAction
from newsletter.model.subscribers import (
    Event,
    Source,
    Subscriber,
    Suppression,
)
from newsletter.rendering.renderer import Renderer
from newsletter.subscribers.choices import Choices, describe_choices
from newsletter.tokens import (
    CONFIRM_MAX_AGE,
    NO_SUBSCRIBER_ID,
    Purpose,
    make_token,
    read_token,
    read_token_issued,
)
from newsletter.transports import Transport
from newsletter.vocabulary import SubscriberStatus

RESEND_AFTER = dt.timedelta(minutes=10)
# Seconds between a link's signature time and the recorded sending time that still count
# as the same sign-up (links mailed before they were signed at exactly that time).
LINK_CLOCK_SLACK = 2


class Store(Protocol):
    """What the workflow needs of ``newsletter.store.subscribers.SubscriberStore``."""

    def get(self, subscriber_id: int) -> Subscriber | None: ...
    def find(self, email: str) -> Subscriber | None: ...
    def add(
        self,
        email: str,
        *,
        categories: Collection[str] = ...,
        language: str = ...,
        source: Source = ...,
        status: SubscriberStatus = ...,
        reason: str = ...,
    ) -> Subscriber: ...
    def set_status(
        self, subscriber_id: int, status: SubscriberStatus, reason: str, *, welcome: bool = ...,
        attribute: LinkAction | None = ...,
    ) -> Subscriber: ...
    def set_preferences(
        self, subscriber_id: int, *, categories: Collection[str], language: str, reason: str = ...,
        attribute: LinkAction | None = ...,
    ) -> Subscriber: ...
    def claim_confirmation(
        self, subscriber_id: int, now: dt.datetime, resend_after: dt.timedelta,
        categories: Collection[str] = ..., language: str = ...,
    ) -> bool: ...
    def release_confirmation(
        self, subscriber_id: int, claimed: dt.datetime, previous: dt.datetime | None,
        previous_pending: tuple[frozenset[str], str] | None = ...,
    ) -> None: ...
    def pending_choices(self, subscriber_id: int) -> tuple[frozenset[str], str] | None: ...
    def apply_pending_choices(self, subscriber_id: int, reason: str) -> None: ...
    def mark_confirmation_sent(self, subscriber_id: int, when: dt.datetime) -> None: ...
    def suppression(self, email: str) -> Suppression | None: ...
    def events(self, subscriber_id: int) -> list[Event]: ...


class ActionLog(Protocol):
    """Where a reader's action through an issue's link is recorded (``store/actions.py``).

    Given to :class:`Subscriptions`, it turns attribution on; the subscriber store writes
    the action in the transaction of the change itself (``attribute=``), so an unsubscribe
    or a preference change is never kept without it, nor it without the change."""

    def record(self, subscriber_id: int, issued: dt.datetime, action: str) -> int | None: ...


class SignupOutcome(StrEnum):
    """What ``subscribe`` did. For logs and tests: never show it to the requester."""

    SENT = "sent"
    THROTTLED = "throttled"
    ALREADY_ACTIVE = "already-active"
    SUPPRESSED = "suppressed"


class ConfirmationMailer:
    """Builds the confirmation email with the issue templates' MJML and CSS pipeline."""

    def __init__(self, renderer: Renderer, sender: Sender) -> None:
        self.renderer = renderer
        self.sender = sender

    def build(self, to: str, confirm_url: str, choices: Choices, when: dt.datetime) -> bytes:
        """The complete RFC 5322 message (CRLF line ends). Raises ``RenderError``."""
        language = choices.language
        show_zh, show_en = language in ("zh", "both"), language in ("en", "both")
        name = parseaddr(self.sender.from_address)[0] or "Newsletter"
        subject = {
            "zh": f"{name}：请确认订阅",
            "en": f"{name}: please confirm your subscription",
        }.get(language, f"{name}：请确认订阅 / Please confirm your subscription")
        html, text = self.renderer.render_email(
            "confirm",
            {
                "lang": "zh-CN" if show_zh else "en",
                "show_zh": show_zh,
                "show_en": show_en,
                "subject": subject,
                "preheader": {
                    "zh": "请点击邮件中的按钮确认订阅。",
                    "en": "Please confirm your subscription with the button in this email.",
                }.get(language, "确认订阅 · Confirm your subscription"),
                "confirm_url": confirm_url,
                "valid_days": CONFIRM_MAX_AGE // 86400,
                "choices": describe_choices(choices, language),
            },
        )
        return transactional_message(self.sender, to, subject, when, html, text)


class Subscriptions:
    """The workflow. ``clock`` returns aware UTC datetimes; tokens use it too. Links are
    signed with ``secret``; ``fallbacks`` (older keys) are accepted when reading them. With
    ``welcome``, a confirmation queues the reader's welcome email in its own transaction."""

    def __init__(
        self,
        store: Store,
        transport: Transport,
        mailer: ConfirmationMailer,
        secret: str,
        base_url: str,
        clock: Callable[[], dt.datetime],
        fallbacks: Sequence[str] = (),
        actions: ActionLog | None = None,
        welcome: bool = False,
    ) -> None:
        self.store = store
        self.actions = actions
        self.welcome = welcome  # queue a welcome email with each confirmation (issue 22)
        self.fallbacks = tuple(fallbacks)
        self.transport = transport
        self.mailer = mailer
        self.secret = secret
        self.base_url = base_url.rstrip("/")
        self.clock = clock

    def link(self, purpose: Purpose, subscriber_id: int, at: dt.datetime | None = None) -> str:
        """``{base_url}/<purpose>/<token>`` for one subscriber, signed ``at`` (default now)."""
        when = (at or self.clock()).timestamp()
        token = make_token(self.secret, purpose, subscriber_id, now=when)
        return f"{self.base_url}/{purpose.value}/{token}"

    def subscribe(self, email: str, choices: Choices, source: Source = "web") -> SignupOutcome:
        """Handle a sign-up of the normalised ``email`` (see the module docstring).

        Raises transport and render errors; the confirmation is only recorded as sent
        once the transport has accepted it, so a failed send can be retried at once.
        """
        subscriber = self.store.find(email)
        suppression = self.store.suppression(email)
        if subscriber is None:
            if suppression is not None:
                return SignupOutcome.SUPPRESSED
            try:
                subscriber = self.store.add(
                    email,
                    categories=choices.categories,
                    language=choices.language,
                    source=source,
                    status="pending",
                    reason=f"{source} sign-up",
                )
            except SuppressedAddressError:
                return SignupOutcome.SUPPRESSED
            except SubscriberExistsError:
                # Another request added it a moment ago; treat this one as a repeat.
                subscriber = self.store.find(email)
                if subscriber is None:
                    return SignupOutcome.SUPPRESSED
        if subscriber.status == "active":
            return SignupOutcome.ALREADY_ACTIVE
        if subscriber.status not in ("pending", "unsubscribed"):
            return SignupOutcome.SUPPRESSED
        if suppression is not None and suppression.reason != "unsubscribed":
            # Their own unsubscribe may be undone by them; an operator's suppression may not.
            return SignupOutcome.SUPPRESSED
        now = self.clock()
        previous = subscriber.confirmation_sent_at
        previous_pending = self.store.pending_choices(subscriber.id)
        # The choices wait beside the reader's own until this sign-up's link is confirmed:
        # anyone may type an address into the form, only its owner can confirm.
        if not self.store.claim_confirmation(
            subscriber.id, now, RESEND_AFTER, choices.categories, choices.language
        ):
            return SignupOutcome.THROTTLED
        try:
            # Signed at the claimed time: the link is bound to this sign-up (see confirm).
            message = self.mailer.build(
                subscriber.email, self.link(Purpose.CONFIRM, subscriber.id, now), choices, now
            )
            self.transport.send(message, subscriber.email)
        except BaseException:
            self.store.release_confirmation(subscriber.id, now, previous, previous_pending)
            raise
        self.store.mark_confirmation_sent(subscriber.id, now)
        return SignupOutcome.SENT

    def decoy(self, email: str, choices: Choices) -> None:
        """Build (and drop) the confirmation email ``subscribe`` would send.

        Called for sign-ups that send nothing, so that every sign-up costs the server the
        same work and its speed does not tell whether an address is known.
        """
        link = f"{self.base_url}/{Purpose.CONFIRM.value}/" + make_token(
            self.secret, Purpose.CONFIRM, NO_SUBSCRIBER_ID, now=self.clock().timestamp()
        )
        self.mailer.build(email, link, choices, self.clock())

    def check_confirm_link(self, token: str) -> None:
        """Check a confirmation token's signature and age without acting on it (for the
        page with the button). Raises ``TokenError``."""
        read_token_issued(
            self.secret, Purpose.CONFIRM, token, max_age=CONFIRM_MAX_AGE,
            now=self.clock().timestamp(), fallbacks=self.fallbacks,
        )

    def confirm(self, token: str) -> Subscriber:
        """Activate the subscriber named by a confirmation token, with the choices of the
        sign-up that link was mailed for; idempotent.

        Raises ``TokenError`` (tampered, expired after 7 days, other purpose),
        :class:`UnknownSubscriberError` (erased since), or
        :class:`SuppressedAddressError` when the address may not be activated or the link
        is not the one mailed for the latest sign-up.
        """
        subscriber_id, issued = read_token_issued(
            self.secret, Purpose.CONFIRM, token, max_age=CONFIRM_MAX_AGE,
            now=self.clock().timestamp(), fallbacks=self.fallbacks,
        )
        subscriber = self.store.get(subscriber_id)
        if subscriber is None:
            raise UnknownSubscriberError("this link is for an address no longer on the list")
        if subscriber.status == "active":
            return subscriber
        sent = subscriber.confirmation_sent_at
        if sent is None or abs(int(sent.timestamp()) - issued) > LINK_CLOCK_SLACK:
            # An older link than the latest sign-up's (sign-ups are 10 minutes apart at
            # least): it may describe other choices, or predate an unsubscribe.
            raise SuppressedAddressError(
                "this link is from an earlier sign-up; use the newest confirmation email"
            )
        if subscriber.status == "unsubscribed" and not self._asked_again(subscriber):
            raise SuppressedAddressError(
                "this link is from before you unsubscribed; subscribe again to get a new one"
            )
        if subscriber.status not in ("pending", "unsubscribed"):
            raise SuppressedAddressError("this address cannot be subscribed")
        # The store lifts the reader's own unsubscribe suppression on activation and
        # refuses (SuppressedAddressError) when an operator or a bounce suppressed it.
        self.store.set_status(subscriber.id, "active", "confirmed by email link",
                              welcome=self.welcome)
        self.store.apply_pending_choices(subscriber.id, "confirmed sign-up")
        confirmed = self.store.get(subscriber.id)
        if confirmed is None:
            raise UnknownSubscriberError("this link is for an address no longer on the list")
        return confirmed

    def unsubscribe(self, token: str, reason: str) -> Subscriber | None:
        """Unsubscribe the subscriber named by an unsubscribe token; idempotent.

        Returns the subscriber, or None when the address was erased meanwhile (nothing
        left to do). Raises ``TokenError`` for a bad token. Unsubscribe links never expire.
        """
        try:
            subscriber = self._subscriber(Purpose.UNSUBSCRIBE, token)
        except UnknownSubscriberError:
            return None
        if subscriber.status in ("active", "pending"):
            return self.store.set_status(
                subscriber.id, "unsubscribed", reason,
                attribute=self._attribution(Purpose.UNSUBSCRIBE, token, "unsubscribe"))
        return subscriber

    def issued(self, purpose: Purpose, token: str) -> dt.datetime:
        """When a (valid) token was signed: the links made from a page keep it, so what is
        done there is counted for the issue whose link led there. Raises ``TokenError``."""
        _, issued = read_token_issued(self.secret, purpose, token, now=self.clock().timestamp(),
                                      fallbacks=self.fallbacks)
        return dt.datetime.fromtimestamp(issued, dt.UTC)

    def _attribution(self, purpose: Purpose, token: str, action: str) -> LinkAction | None:
        """What the store records with the change, in its transaction (with ``actions``)."""
        return None if self.actions is None else LinkAction(self.issued(purpose, token), action)

    def unsubscribe_target(self, token: str) -> Subscriber | None:
        """Check an unsubscribe token without acting on it (for the page with the button).

        Returns the subscriber, or None when erased; raises ``TokenError`` for a bad token.
        """
        try:
            return self._subscriber(Purpose.UNSUBSCRIBE, token)
        except UnknownSubscriberError:
            return None

    def preferences(self, token: str) -> Subscriber:
        """The subscriber named by a preferences token; raises ``TokenError`` or
        :class:`UnknownSubscriberError`."""
        return self._subscriber(Purpose.PREFERENCES, token)

    def update_preferences(self, token: str, choices: Choices) -> Subscriber:
        """Save new choices for the subscriber named by a preferences token."""
        subscriber = self._subscriber(Purpose.PREFERENCES, token)
        updated = self.store.set_preferences(
            subscriber.id,
            categories=choices.categories,
            language=choices.language,
            reason="preferences page",
            attribute=self._attribution(Purpose.PREFERENCES, token, "preferences"),
        )
        return updated

    def _subscriber(self, purpose: Purpose, token: str, max_age: int | None = None) -> Subscriber:
        now = self.clock().timestamp()
        subscriber_id = read_token(
            self.secret, purpose, token, max_age=max_age, now=now, fallbacks=self.fallbacks
        )
        subscriber = self.store.get(subscriber_id)
        if subscriber is None:
            raise UnknownSubscriberError("this link is for an address no longer on the list")
        return subscriber

    def _asked_again(self, subscriber: Subscriber) -> bool:
        # An unsubscribed reader is re-activated only by a confirmation sent after they left.
        sent = subscriber.confirmation_sent_at
        left = [
            e.created_at for e in self.store.events(subscriber.id)
            if e.new_status == "unsubscribed" and e.old_status != "unsubscribed"
        ]
        return sent is not None and (not left or sent >= left[-1])

