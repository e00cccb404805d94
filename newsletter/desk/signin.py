"""Editors sign in without passwords: a link by email, a button, a server-side session.

Only addresses in ``NEWSLETTER_EDITORS`` are mailed a link; every address is answered the
same way, and the email is built for every request (then sent or dropped), so that neither
the page nor its timing tells who is an editor. A link works once, for 15 minutes, and only
through a POST (link scanners follow GETs). Sessions live in the database, keyed by the
hash of the cookie's secret: they can be revoked, one or all of an editor's, and expire when
idle. Each session has its own CSRF token, an HMAC of its secret.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass

from newsletter.errors import InvalidAddressError, TransportError
from newsletter.mail.message import Sender
from newsletter.mail.transactional import transactional_message
from newsletter.model.addresses import normalize_email
from newsletter.rendering.renderer import Renderer
from newsletter.store.desk import DeskStore
from newsletter.transports import Transport

LINK_MAX_AGE = dt.timedelta(minutes=15)
SESSION_IDLE = dt.timedelta(hours=12)


@dataclass(frozen=True)
class DeskConfig:
    """Who may sign in, and where links point (``base_url`` has no trailing slash)."""

    editors: frozenset[str]
    base_url: str
    secret: str  # the signing key: CSRF tokens are HMACs under it
    link_max_age: dt.timedelta = LINK_MAX_AGE
    session_idle: dt.timedelta = SESSION_IDLE

    @property
    def secure_cookies(self) -> bool:
        return self.base_url.startswith("https://")


class SignIn:
    """Links, sessions and CSRF tokens for the desk."""

    def __init__(
        self,
        config: DeskConfig,
        store: DeskStore,
        renderer: Renderer,
        sender: Sender,
        transport: Callable[[], Transport],
        clock: Callable[[], dt.datetime],
    ) -> None:
        self.config = config
        self.store = store
        self.renderer = renderer
        self.sender = sender
        self.transport = transport
        self.clock = clock

    def is_editor(self, address: str) -> bool:
        try:
            return normalize_email(address) in self.config.editors
        except InvalidAddressError:
            return False

    def request_link(self, address: str) -> bool:
        """Mail a sign-in link when ``address`` is an editor's; True when one was sent.

        The same email is built either way. A transport failure is swallowed (the page
        said "if this address may sign in, a link is on its way" and must not say more).
        """
        editor = self.is_editor(address)
        secret = self.store.new_link(normalize_email(address)) if editor else "x" * 43
        message = self.email(address if editor else "nobody@example.invalid", secret)
        if not editor:
            return False
        try:
            self.transport().send(message, normalize_email(address))
        except TransportError:
            return False
        self.store.audit(normalize_email(address), "sign-in link sent")
        return True

    def link_url(self, secret: str) -> str:
        return f"{self.config.base_url}/admin/sign-in/{secret}"

    def email(self, to: str, secret: str) -> bytes:
        subject = "Your sign-in link to the newsletter desk"
        minutes = int(self.config.link_max_age.total_seconds() // 60)
        html, text = self.renderer.render_email("sign_in", {
            "subject": subject,
            "preheader": f"Sign in to the desk; the link works once, for {minutes} minutes.",
            "sign_in_url": self.link_url(secret),
            "valid_minutes": minutes,
        })
        return transactional_message(self.sender, to, subject, self.clock(), html, text,
                                     reply_to=False)

    def link_is_live(self, secret: str) -> bool:
        """Whether a link could sign in now (the page with the button is shown for it)."""
        return self.store.link_email(secret, self.config.link_max_age) is not None

    def sign_in(self, secret: str) -> str | None:
        """Use the link: a new session's secret, or None for an unknown, used or expired
        link, or for an address that is no longer an editor."""
        email = self.store.use_link(secret, self.config.link_max_age)
        if email is None or email not in self.config.editors:
            return None
        session = self.store.new_session(email)
        self.store.audit(email, "signed in")
        return session

    def editor(self, session: str) -> str | None:
        """The editor a session cookie belongs to, while the session lives."""
        if not session:
            return None
        email = self.store.session_email(session, self.config.session_idle)
        return email if email in self.config.editors else None

    def csrf_token(self, session: str) -> str:
        key = hashlib.sha256(f"desk-csrf:{self.config.secret}".encode()).digest()
        return hmac.new(key, session.encode("utf-8"), hashlib.sha256).hexdigest()

    def csrf_ok(self, session: str, token: str) -> bool:
        return bool(session) and hmac.compare_digest(self.csrf_token(session), token)

    def sign_out(self, session: str, editor: str, everywhere: bool = False) -> None:
        if everywhere:
            self.store.end_sessions_of(editor)
        else:
            self.store.end_session(session)
        self.store.audit(editor, "signed out everywhere" if everywhere else "signed out")
