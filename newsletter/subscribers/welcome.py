"""The welcome email a reader gets once, after confirming their subscription.

The confirmation queues it in the database (``store/welcome.py``) in the same transaction
that makes the reader active; :class:`Welcomes` sends what is queued. The web app sends a
reader's welcome right after the confirmation page has been answered, and ``newsletter
worker`` drains whatever is left (the web app died first, the transport failed). Each
queued welcome is claimed by one sender alone, so it goes out once however many drain.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parseaddr
from typing import Protocol

from newsletter.errors import (
    InDoubtTransportError,
    NewsletterError,
    PermanentTransportError,
    RenderError,
)
from newsletter.mail.message import Sender
from newsletter.mail.transactional import transactional_message
from newsletter.model.subscribers import Subscriber
from newsletter.rendering.renderer import Renderer
from newsletter.subscribers.choices import Choices, describe_choices
from newsletter.tokens import Purpose, make_token
from newsletter.transports import Transport

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WelcomeLinks:
    """Where the welcome points: the reader's own pages and the public archive."""

    preferences: str
    unsubscribe: str
    archive: str
    latest_issue: str | None  # the newest issue sent, if any


class WelcomeMailer:
    """Builds the welcome email with the issue templates' MJML and CSS pipeline."""

    def __init__(self, renderer: Renderer, sender: Sender) -> None:
        self.renderer = renderer
        self.sender = sender

    def build(self, reader: Subscriber, links: WelcomeLinks, when: dt.datetime) -> bytes:
        """The complete RFC 5322 message, in the reader's language. Raises ``RenderError``."""
        language = reader.language
        show_zh, show_en = language in ("zh", "both"), language in ("en", "both")
        name = parseaddr(self.sender.from_address)[0] or "Newsletter"
        subject = {
            "zh": f"欢迎订阅{name}",
            "en": f"Welcome to {name}",
        }.get(language, f"欢迎订阅{name} / Welcome to {name}")
        html, text = self.renderer.render_email(
            "welcome",
            {
                "lang": "zh-CN" if show_zh else "en",
                "show_zh": show_zh,
                "show_en": show_en,
                "subject": subject,
                "name": name,
                "preheader": {
                    "zh": "订阅已确认：下一期会准时送到你的邮箱。",
                    "en": "You are subscribed: the next issue comes to this inbox.",
                }.get(language, "订阅已确认 · You are subscribed"),
                "preferences_url": links.preferences,
                "unsubscribe_url": links.unsubscribe,
                "archive_url": links.archive,
                "latest_url": links.latest_issue,
                "choices": describe_choices(Choices(reader.categories, language), language),
            },
        )
        return transactional_message(self.sender, reader.email, subject, when, html, text,
                                     unsubscribe_url=links.unsubscribe)


class Outbox(Protocol):
    """What sending needs of ``newsletter.store.welcome.WelcomeStore``."""

    def queued(self, limit: int = ...) -> list[int]: ...
    def claim(self, subscriber_id: int) -> bool: ...
    def finish(self, subscriber_id: int, status: str, error: str = ...) -> None: ...
    def release(self, subscriber_id: int, error: str) -> None: ...


class Readers(Protocol):
    def get(self, subscriber_id: int) -> Subscriber | None: ...


class Welcomes:
    """Sends queued welcomes. ``latest_issue`` gives the date of the newest issue sent."""

    def __init__(
        self, outbox: Outbox, readers: Readers, transport: Callable[[], Transport],
        mailer: WelcomeMailer, secret: str, base_url: str,
        latest_issue: Callable[[], str | None], clock: Callable[[], dt.datetime],
    ) -> None:
        self.outbox = outbox
        self.readers = readers
        self.transport = transport
        self.mailer = mailer
        self.secret = secret
        self.base_url = base_url.rstrip("/")
        self.latest_issue = latest_issue
        self.clock = clock

    def links(self, subscriber_id: int) -> WelcomeLinks:
        now = self.clock().timestamp()
        latest = self.latest_issue()

        def link(purpose: Purpose) -> str:
            token = make_token(self.secret, purpose, subscriber_id, now=now)
            return f"{self.base_url}/{purpose.value}/{token}"

        return WelcomeLinks(
            preferences=link(Purpose.PREFERENCES),
            unsubscribe=link(Purpose.UNSUBSCRIBE),
            archive=f"{self.base_url}/archive/",
            latest_issue=f"{self.base_url}/issues/{latest}" if latest else None,
        )

    def send(self, subscriber_id: int) -> str:
        """Send the queued welcome of one reader: ``sent``, ``skipped`` (no longer
        active), ``taken`` (none queued, or another sender has it) or ``failed`` (given up
        when it may have been sent or never can be, else left queued for the next drain).
        Raises ``StoreError`` when the database fails."""
        if not self.outbox.claim(subscriber_id):
            return "taken"
        reader = self.readers.get(subscriber_id)
        if reader is None or reader.status != "active":
            self.outbox.finish(subscriber_id, "skipped", "the reader left before it was sent")
            return "skipped"
        try:
            message = self.mailer.build(reader, self.links(reader.id), self.clock())
            self.transport().send(message, reader.email)
        except (InDoubtTransportError, PermanentTransportError, RenderError) as error:
            # Maybe sent after all, or never sendable: not tried again (no second welcome).
            self.outbox.finish(subscriber_id, "failed", f"{type(error).__name__}: {error}")
            log.warning("welcome email to subscriber %d given up: %s", subscriber_id, error)
            return "failed"
        except NewsletterError as error:
            self.outbox.release(subscriber_id, f"{type(error).__name__}: {error}")
            log.warning("welcome email to subscriber %d not sent (retried later): %s",
                        subscriber_id, error)
            return "failed"
        except BaseException:
            self.outbox.release(subscriber_id, "interrupted")
            raise
        self.outbox.finish(subscriber_id, "sent")
        return "sent"

    def drain(self, limit: int = 100) -> int:
        """Send up to ``limit`` queued welcomes; how many were sent."""
        return sum(self.send(sid) == "sent" for sid in self.outbox.queued(limit))
