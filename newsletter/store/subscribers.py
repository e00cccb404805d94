"""Subscribers, their event log and the suppression list.

Every state change of a subscriber writes a row in ``subscriber_events`` (what, when, why).
A suppression stops an address from ever being mailed or re-imported; it keeps the plain
address while useful and always its hash, so an erased address stays blocked without being
stored.
"""

from __future__ import annotations

import builtins
import datetime as dt
from collections.abc import Callable, Collection, Iterator, Sequence
from typing import Any

from sqlalchemy import Connection, Row, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from newsletter.clock import utc_now
from newsletter.errors import (
    InvalidAddressError,
    InvalidPreferencesError,
    SubscriberExistsError,
    SuppressedAddressError,
    UnknownSubscriberError,
)
from newsletter.model.addresses import email_hash, normalize_email
from newsletter.model.engagement import LinkAction
from newsletter.model.subscribers import (
    SOURCES,
    AddManyResult,
    Event,
    NewSubscriber,
    Source,
    Subscriber,
    Suppression,
    check_preferences,
    check_status,
)
from newsletter.store.actions import record_action
from newsletter.store.bulk import insert_active
from newsletter.store.confirmations import ConfirmationRecords
from newsletter.store.db import Database
from newsletter.store.rows import (
    insert_suppression,
    record_event,
    suppress_address,
    suppression_key,
)
from newsletter.store.tables import deliveries, subscriber_events, subscribers, suppressions
from newsletter.store.welcome import queue_welcome
from newsletter.vocabulary import SUPPRESSED_STATUSES, SubscriberStatus

# The columns of a Subscriber, in the order of its fields: rows are unpacked by position,
# which is several times faster than by name when a million recipients stream past.
_SUBSCRIBER_COLUMNS = (
    subscribers.c.id,
    subscribers.c.email,
    subscribers.c.status,
    subscribers.c.categories,
    subscribers.c.language,
    subscribers.c.source,
    subscribers.c.created_at,
    subscribers.c.updated_at,
    subscribers.c.confirmed_at,
    subscribers.c.confirmation_sent_at,
)


def _subscriber(row: Sequence[Any]) -> Subscriber:
    id_, email, status, cats, language, source, created, updated, confirmed, sent = row
    categories = frozenset(cats.split(",")) if cats else frozenset()
    return Subscriber(id_, email, status, categories, language, source, created, updated,
                      confirmed, sent)


def _suppression(row: Row[Any]) -> Suppression:
    return Suppression(row.email_hash, row.email, row.reason, row.detail, row.created_at)


def _normalized_or_none(email: str) -> str | None:
    try:
        return normalize_email(email)
    except InvalidAddressError:
        return None


class SubscriberStore(ConfirmationRecords):
    """Queries and changes over subscribers, their events and suppressions.

    Methods that take an address normalise it first (see :func:`normalize_email`), so no
    second spelling of an address can slip past a suppression.
    """

    def __init__(self, db: Database, clock: Callable[[], dt.datetime] = utc_now) -> None:
        super().__init__(db)
        self._clock = clock

    # Reading

    def get(self, subscriber_id: int) -> Subscriber | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(*_SUBSCRIBER_COLUMNS).where(subscribers.c.id == subscriber_id)
            ).first()
        return _subscriber(row) if row else None

    def find(self, email: str) -> Subscriber | None:
        """The subscriber with this address, or None (also for an address that cannot exist)."""
        normal = _normalized_or_none(email)
        if normal is None:
            return None
        with self.engine.connect() as conn:
            row = conn.execute(
                select(*_SUBSCRIBER_COLUMNS).where(subscribers.c.email == normal)
            ).first()
        return _subscriber(row) if row else None

    def list(self, status: SubscriberStatus | None = None) -> Iterator[Subscriber]:
        """Every subscriber (with ``status`` when given), in id order, streamed.

        Rows are fetched in batches from a server-side cursor, so memory stays flat for
        any list size. The connection stays open until the iterator is exhausted or closed.
        """
        query = select(*_SUBSCRIBER_COLUMNS).order_by(subscribers.c.id)
        if status is not None:
            check_status(status)
            query = query.where(subscribers.c.status == status)
        with self.engine.connect() as conn:
            result = conn.execution_options(yield_per=2000).execute(query)
            for row in result:
                yield _subscriber(row)

    def count(self, status: SubscriberStatus | None = None) -> int:
        """How many subscribers there are (with ``status`` when given)."""
        query = select(func.count()).select_from(subscribers)
        if status is not None:
            query = query.where(subscribers.c.status == status)
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def events(self, subscriber_id: int) -> builtins.list[Event]:
        """The subscriber's history, oldest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(subscriber_events)
                .where(subscriber_events.c.subscriber_id == subscriber_id)
                .order_by(subscriber_events.c.id)
            ).all()
        return [
            Event(r.id, r.subscriber_id, r.kind, r.old_status, r.new_status, r.reason, r.created_at)
            for r in rows
        ]

    # Changing one subscriber

    def add(
        self,
        email: str,
        *,
        categories: Collection[str] = frozenset(),
        language: str = "both",
        source: Source = "cli",
        status: SubscriberStatus = "pending",
        reason: str = "",
    ) -> Subscriber:
        """Add a subscriber and record a ``created`` event.

        Raises :class:`InvalidAddressError`, :class:`InvalidPreferencesError`,
        :class:`SuppressedAddressError` when the address is suppressed (checked first, so an
        erased address is refused too) and :class:`SubscriberExistsError` when it is listed.
        """
        normal = normalize_email(email)
        stored, checked_language = check_preferences(categories, language)
        check_status(status)
        if source not in SOURCES:
            raise InvalidPreferencesError(f"source must be one of {', '.join(SOURCES)}")
        now = self._clock()
        try:
            with self.engine.begin() as conn:
                if suppression_key(conn, normal) is not None:
                    raise SuppressedAddressError(f"{normal} is suppressed and cannot be added")
                new_id: int = conn.execute(
                    insert(subscribers)
                    .returning(subscribers.c.id)
                    .values(
                        email=normal,
                        status=status,
                        categories=stored,
                        language=checked_language,
                        source=source,
                        created_at=now,
                        updated_at=now,
                        confirmed_at=now if status == "active" else None,
                    )
                ).scalar_one()
                record_event(conn, new_id, "created", None, status, reason or source, now)
        except IntegrityError:
            raise SubscriberExistsError(f"{normal} is already subscribed") from None
        found = self.get(new_id)
        assert found is not None
        return found

    def set_status(self, subscriber_id: int, status: SubscriberStatus, reason: str,
                   *, welcome: bool = False, attribute: LinkAction | None = None) -> Subscriber:
        """Change the status, record an event, and keep the suppression list in step.

        A suppressed status (unsubscribed, bounced, complained) adds a suppression. Moving back
        to pending or active is allowed only when the subscriber's own unsubscribe is the
        suppression (they re-subscribe with double opt-in); becoming active lifts it. Any
        other suppression raises :class:`SuppressedAddressError`. Setting the current status
        again changes nothing. With ``welcome``, becoming active queues the reader's welcome
        email in the same transaction (once per reader); with ``attribute``, a change is
        attributed to the issue whose link was used, in it too (``store/actions.py``).
        Raises :class:`UnknownSubscriberError`.
        """
        check_status(status)
        now = self._clock()
        with self.engine.begin() as conn:
            current = self._locked(conn, subscriber_id)
            if current.status == status:
                return current
            suppression = suppression_key(conn, current.email)
            if status in SUPPRESSED_STATUSES:
                insert_suppression(conn, current.email, status, reason, now)
            elif suppression is not None:
                if suppression.reason != "unsubscribed":
                    raise SuppressedAddressError(
                        f"{current.email} is suppressed ({suppression.reason}); "
                        "remove the suppression first if it should be mailed again"
                    )
                if status == "active":
                    conn.execute(
                        delete(suppressions).where(suppressions.c.email_hash == suppression.hash)
                    )
            values: dict[str, Any] = {"status": status, "updated_at": now}
            if status == "active":
                values["confirmed_at"] = now
            conn.execute(
                update(subscribers).where(subscribers.c.id == subscriber_id).values(**values)
            )
            record_event(conn, subscriber_id, "status", current.status, status, reason, now)
            if welcome and status == "active":
                queue_welcome(conn, subscriber_id, now)
            if attribute is not None:
                record_action(conn, subscriber_id, attribute, now)
        return self._must_get(subscriber_id)

    def set_preferences(self, subscriber_id: int, *, categories: Collection[str], language: str,
                        reason: str = "preferences",
                        attribute: LinkAction | None = None) -> Subscriber:
        """Replace categories and language; record a ``preferences`` event. With
        ``attribute``, a change (not the same choices again) is attributed as in ``set_status``.

        Raises :class:`InvalidPreferencesError` and :class:`UnknownSubscriberError`.
        """
        stored, checked_language = check_preferences(categories, language)
        now = self._clock()
        with self.engine.begin() as conn:
            current = self._locked(conn, subscriber_id)
            conn.execute(
                update(subscribers)
                .where(subscribers.c.id == subscriber_id)
                .values(categories=stored, language=checked_language, updated_at=now)
            )
            what = f"{reason} (language {checked_language}, categories {stored or 'all'})"
            status = current.status
            record_event(conn, subscriber_id, "preferences", status, status, what, now)
            if attribute and (frozenset(stored.split(",")) - {""}, checked_language) != (
                    current.categories, current.language):
                record_action(conn, subscriber_id, attribute, now)
        return self._must_get(subscriber_id)

    def remove(self, email: str) -> bool:
        """Erase an address: delete its subscriber, keep only its hash as a suppression.

        The subscriber's events stay without the link to them, the suppression loses the
        plain address and its detail, deliveries lose the address (the subscriber's) and
        queued ones are cancelled. The hash blocks the address from being added or imported
        again. Returns whether a subscriber was deleted (the hash is kept either way).
        Raises :class:`InvalidAddressError`.
        """
        normal = normalize_email(email)
        digest = email_hash(normal)
        now = self._clock()
        with self.engine.begin() as conn:
            row = conn.execute(
                select(subscribers.c.id, subscribers.c.status)
                .where(subscribers.c.email == normal)
                .with_for_update()
            ).first()
            if row is not None:
                # Reasons may quote the address (a bounce diagnostic, say); keep the rest.
                conn.execute(
                    update(subscriber_events)
                    .where(subscriber_events.c.subscriber_id == row.id)
                    .values(reason=func.replace(subscriber_events.c.reason, normal, "[erased]"))
                )
                record_event(conn, row.id, "erased", row.status, None, "erasure requested", now)
                conn.execute(
                    update(deliveries)
                    .where(deliveries.c.subscriber_id == row.id, deliveries.c.status == "queued")
                    .values(status="failed", error="subscriber erased before sending")
                )
                conn.execute(delete(subscribers).where(subscribers.c.id == row.id))
            if suppression_key(conn, normal) is None:
                insert_suppression(conn, None, "erased", "", now, digest=digest)
            else:
                conn.execute(
                    update(suppressions)
                    .where(suppressions.c.email_hash == digest)
                    .values(email=None, detail="")
                )
        return row is not None

    # Suppressions

    def is_suppressed(self, email: str) -> bool:
        return self.suppression(email) is not None

    def suppression(self, email: str) -> Suppression | None:
        """The suppression of this address (found by hash, so erased ones too), or None."""
        normal = _normalized_or_none(email)
        if normal is None:
            return None
        with self.engine.connect() as conn:
            row = conn.execute(
                select(suppressions).where(suppressions.c.email_hash == email_hash(normal))
            ).first()
        return _suppression(row) if row else None

    def suppressions(self) -> Iterator[Suppression]:
        """Every suppression, oldest first, streamed."""
        with self.engine.connect() as conn:
            result = conn.execution_options(yield_per=2000).execute(
                select(suppressions).order_by(suppressions.c.id)
            )
            for row in result:
                yield _suppression(row)

    def suppress(self, email: str, reason: str, detail: str = "") -> None:
        """Never mail this address again (idempotent: an existing suppression is kept as is).

        When ``reason`` is a suppressed status (unsubscribed, bounced, complained) and the
        address is subscribed, the subscriber takes that status too, with an event.
        Raises :class:`InvalidAddressError`.
        """
        normal = normalize_email(email)
        with self.engine.begin() as conn:
            suppress_address(conn, normal, reason, detail, self._clock())

    def unsuppress(self, email: str) -> bool:
        """Lift the suppression of this address; whether there was one.

        The subscriber's status is left as it is. Raises :class:`InvalidAddressError`.
        """
        digest = email_hash(normalize_email(email))
        with self.engine.begin() as conn:
            deleted = conn.execute(delete(suppressions).where(suppressions.c.email_hash == digest))
        return deleted.rowcount > 0

    # Bulk

    def add_many(
        self, rows: Sequence[NewSubscriber], *, source: Source = "import", reason: str = "import"
    ) -> AddManyResult:
        """Add many active subscribers in one transaction (an import batch).

        Addresses already listed (also earlier in ``rows``) are left as they are; suppressed
        addresses are skipped. Emails must be normalised and preferences checked by the
        caller (see :func:`check_preferences`). Safe against a concurrent add of the same
        address: the batch is retried once the other transaction has committed.
        """
        for _attempt in range(5):
            try:
                with self.engine.begin() as conn:
                    return insert_active(conn, rows, source, reason, self._clock())
            except IntegrityError:
                continue
        raise SubscriberExistsError("addresses kept being added concurrently; import again")

    # Helpers

    def _must_get(self, subscriber_id: int) -> Subscriber:
        found = self.get(subscriber_id)
        if found is None:
            raise UnknownSubscriberError(f"no subscriber has id {subscriber_id}")
        return found

    @staticmethod
    def _locked(conn: Connection, subscriber_id: int) -> Subscriber:
        row = conn.execute(
            select(*_SUBSCRIBER_COLUMNS).where(subscribers.c.id == subscriber_id).with_for_update()
        ).first()
        if row is None:
            raise UnknownSubscriberError(f"no subscriber has id {subscriber_id}")
        return _subscriber(row)
