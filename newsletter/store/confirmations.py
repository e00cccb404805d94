"""The confirmation bookkeeping of subscribers: when a link was last mailed, for which
choices, and the one-per-10-minutes rule as a single atomic step in the database."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection

from sqlalchemy import or_, select, update

from newsletter.errors import UnknownSubscriberError
from newsletter.model.subscribers import check_preferences
from newsletter.store.base import Store
from newsletter.store.rows import record_event
from newsletter.store.tables import subscribers

# What a sign-up waiting for confirmation chose: stored categories ("" is all) and language.
Pending = tuple[frozenset[str], str]


class ConfirmationRecords(Store):
    """Part of ``SubscriberStore``: the columns a confirmation link depends on."""

    _clock: Callable[[], dt.datetime]

    def claim_confirmation(
        self, subscriber_id: int, now: dt.datetime, resend_after: dt.timedelta,
        categories: Collection[str] = (), language: str = "both",
    ) -> bool:
        """Record ``now`` as the time of the last confirmation, with the choices it asks to
        confirm, unless one was sent less than ``resend_after`` ago; True when this caller
        may send it.

        One conditional UPDATE: the database decides, so of several processes signing up
        one address at the same moment exactly one wins. Raises ``InvalidPreferencesError``.
        """
        stored, checked = check_preferences(categories, language)
        sent = subscribers.c.confirmation_sent_at
        with self.engine.begin() as conn:
            claimed = conn.execute(
                update(subscribers)
                .where(
                    subscribers.c.id == subscriber_id,
                    or_(sent.is_(None), sent <= now - resend_after),
                )
                .values(confirmation_sent_at=now, pending_categories=stored,
                        pending_language=checked)
            )
            return claimed.rowcount == 1

    def release_confirmation(
        self, subscriber_id: int, claimed: dt.datetime, previous: dt.datetime | None,
        previous_pending: Pending | None = None,
    ) -> None:
        """Undo :meth:`claim_confirmation` at ``claimed`` (the send failed): retry at once."""
        categories, language = previous_pending or (None, None)
        with self.engine.begin() as conn:
            conn.execute(
                update(subscribers)
                .where(
                    subscribers.c.id == subscriber_id,
                    subscribers.c.confirmation_sent_at == claimed,
                )
                .values(
                    confirmation_sent_at=previous,
                    pending_categories=None if categories is None else ",".join(sorted(categories)),
                    pending_language=language,
                )
            )

    def pending_choices(self, subscriber_id: int) -> Pending | None:
        """The choices of the sign-up last mailed a link, until it is confirmed; or None."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(subscribers.c.pending_categories, subscribers.c.pending_language)
                .where(subscribers.c.id == subscriber_id)
            ).first()
        if row is None or row.pending_language is None:
            return None
        codes = frozenset(c for c in (row.pending_categories or "").split(",") if c)
        return codes, row.pending_language

    def apply_pending_choices(self, subscriber_id: int, reason: str) -> None:
        """Make the pending choices the subscriber's own (their link was confirmed)."""
        now = self._clock()
        with self.engine.begin() as conn:
            row = conn.execute(
                select(subscribers.c.status, subscribers.c.categories, subscribers.c.language,
                       subscribers.c.pending_categories, subscribers.c.pending_language)
                .where(subscribers.c.id == subscriber_id)
                .with_for_update()
            ).first()
            if row is None:
                raise UnknownSubscriberError(f"no subscriber has id {subscriber_id}")
            if row.pending_language is None:
                return
            conn.execute(
                update(subscribers)
                .where(subscribers.c.id == subscriber_id)
                .values(categories=row.pending_categories or "", language=row.pending_language,
                        pending_categories=None, pending_language=None, updated_at=now)
            )
            if (row.categories, row.language) == (row.pending_categories, row.pending_language):
                return  # what they chose when first signing up: nothing changed
            what = (f"{reason} (language {row.pending_language}, "
                    f"categories {row.pending_categories or 'all'})")
            record_event(conn, subscriber_id, "preferences", row.status, row.status, what, now)

    def mark_confirmation_sent(self, subscriber_id: int, when: dt.datetime) -> None:
        """Remember when a confirmation message was last sent. Raises UnknownSubscriberError."""
        with self.engine.begin() as conn:
            row = conn.execute(
                select(subscribers.c.status).where(subscribers.c.id == subscriber_id)
                .with_for_update()
            ).first()
            if row is None:
                raise UnknownSubscriberError(f"no subscriber has id {subscriber_id}")
            conn.execute(
                update(subscribers)
                .where(subscribers.c.id == subscriber_id)
                .values(confirmation_sent_at=when)
            )
            record_event(conn, subscriber_id, "confirmation_sent", row.status, row.status, "", when)
