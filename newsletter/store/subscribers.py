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
from dataclasses import dataclass
from typing import Any, Literal, get_args

from sqlalchemy import Connection, Engine, Row, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from newsletter.errors import (
    InvalidAddressError,
    InvalidPreferencesError,
    SubscriberExistsError,
    SuppressedAddressError,
    UnknownSubscriberError,
)
from newsletter.store.tables import (
    deliveries,
    subscriber_events,
    subscribers,
    suppressions,
    utc_now,
)
from newsletter.subscribers.addresses import email_hash, normalize_email
from newsletter.vocabulary import (
    CATEGORY_CODE,
    LANGUAGES,
    SUBSCRIBER_STATUSES,
    SUPPRESSED_STATUSES,
    Language,
    SubscriberStatus,
)

Status = SubscriberStatus
Source = Literal["web", "import", "cli"]
STATUSES = SUBSCRIBER_STATUSES
SOURCES: tuple[Source, ...] = get_args(Source)
SUPPRESSED = SUPPRESSED_STATUSES
# The width of subscribers.categories.
_CATEGORIES_WIDTH = 200


@dataclass(frozen=True)
class Subscriber:
    """One subscriber. ``categories`` empty means every category."""

    id: int
    email: str
    status: Status
    categories: frozenset[str]
    language: Language
    source: Source
    created_at: dt.datetime
    updated_at: dt.datetime
    confirmed_at: dt.datetime | None
    confirmation_sent_at: dt.datetime | None


@dataclass(frozen=True)
class Event:
    """One entry of a subscriber's history."""

    id: int
    subscriber_id: int | None
    kind: str
    old_status: str | None
    new_status: str | None
    reason: str
    created_at: dt.datetime


@dataclass(frozen=True)
class Suppression:
    """An address that must not be mailed. ``email`` is None once its owner was erased."""

    email_hash: str
    email: str | None
    reason: str
    detail: str
    created_at: dt.datetime


@dataclass(frozen=True)
class NewSubscriber:
    """One row for :meth:`SubscriberStore.add_many`; ``email`` already normalised."""

    email: str
    categories: frozenset[str] = frozenset()
    language: Language = "both"


@dataclass
class AddManyResult:
    """What :meth:`SubscriberStore.add_many` did with each row."""

    added: int = 0
    already_present: int = 0
    suppressed: int = 0


def check_preferences(categories: Collection[str], language: str) -> tuple[str, Language]:
    """The stored form of ``categories`` and the checked ``language``.

    Raises :class:`InvalidPreferencesError` for a code that is not 2-5 capital letters, an
    unknown language, or more categories than the column holds.
    """
    for code in categories:
        if not CATEGORY_CODE.fullmatch(code):
            raise InvalidPreferencesError(
                f"{code!r} is not a category code (2-5 capital letters, e.g. LG)"
            )
    if language not in LANGUAGES:
        raise InvalidPreferencesError(
            f"language must be one of {', '.join(LANGUAGES)}, not {language!r}"
        )
    stored = ",".join(sorted(set(categories)))
    if len(stored) > _CATEGORIES_WIDTH:
        raise InvalidPreferencesError(f"too many categories ({len(set(categories))})")
    return stored, language


def _check_status(status: str) -> None:
    if status not in STATUSES:
        raise InvalidPreferencesError(
            f"status must be one of {', '.join(STATUSES)}, not {status!r}"
        )


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
    return Subscriber(
        id_, email, status, categories, language, source, created, updated, confirmed, sent
    )


def _suppression(row: Row[Any]) -> Suppression:
    return Suppression(row.email_hash, row.email, row.reason, row.detail, row.created_at)


def _normalized_or_none(email: str) -> str | None:
    try:
        return normalize_email(email)
    except InvalidAddressError:
        return None


class SubscriberStore:
    """Queries and changes over subscribers, their events and suppressions.

    Methods that take an address normalise it first (see :func:`normalize_email`), so no
    second spelling of an address can slip past a suppression.
    """

    def __init__(self, engine: Engine, clock: Callable[[], dt.datetime] = utc_now) -> None:
        self._engine = engine
        self._clock = clock

    # Reading

    def get(self, subscriber_id: int) -> Subscriber | None:
        with self._engine.connect() as conn:
            row = conn.execute(
                select(*_SUBSCRIBER_COLUMNS).where(subscribers.c.id == subscriber_id)
            ).first()
        return _subscriber(row) if row else None

    def find(self, email: str) -> Subscriber | None:
        """The subscriber with this address, or None (also for an address that cannot exist)."""
        normal = _normalized_or_none(email)
        if normal is None:
            return None
        with self._engine.connect() as conn:
            row = conn.execute(
                select(*_SUBSCRIBER_COLUMNS).where(subscribers.c.email == normal)
            ).first()
        return _subscriber(row) if row else None

    def list(self, status: Status | None = None) -> Iterator[Subscriber]:
        """Every subscriber (with ``status`` when given), in id order, streamed.

        Rows are fetched in batches from a server-side cursor, so memory stays flat for
        any list size. The connection stays open until the iterator is exhausted or closed.
        """
        query = select(*_SUBSCRIBER_COLUMNS).order_by(subscribers.c.id)
        if status is not None:
            _check_status(status)
            query = query.where(subscribers.c.status == status)
        with self._engine.connect() as conn:
            result = conn.execution_options(yield_per=2000).execute(query)
            for row in result:
                yield _subscriber(row)

    def count(self, status: Status | None = None) -> int:
        """How many subscribers there are (with ``status`` when given)."""
        query = select(func.count()).select_from(subscribers)
        if status is not None:
            query = query.where(subscribers.c.status == status)
        with self._engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def events(self, subscriber_id: int) -> builtins.list[Event]:
        """The subscriber's history, oldest first."""
        with self._engine.connect() as conn:
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
        status: Status = "pending",
        reason: str = "",
    ) -> Subscriber:
        """Add a subscriber and record a ``created`` event.

        Raises :class:`InvalidAddressError`, :class:`InvalidPreferencesError`,
        :class:`SuppressedAddressError` when the address is suppressed (checked first, so an
        erased address is refused too) and :class:`SubscriberExistsError` when it is listed.
        """
        normal = normalize_email(email)
        stored, checked_language = check_preferences(categories, language)
        _check_status(status)
        if source not in SOURCES:
            raise InvalidPreferencesError(f"source must be one of {', '.join(SOURCES)}")
        now = self._clock()
        try:
            with self._engine.begin() as conn:
                if self._suppression_row(conn, normal) is not None:
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
                self._record(conn, new_id, "created", None, status, reason or source, now)
        except IntegrityError:
            raise SubscriberExistsError(f"{normal} is already subscribed") from None
        found = self.get(new_id)
        assert found is not None
        return found

    def set_status(self, subscriber_id: int, status: Status, reason: str) -> Subscriber:
        """Change the status, record an event, and keep the suppression list in step.

        A suppressed status (unsubscribed, bounced, complained) adds a suppression. Moving back
        to pending or active is allowed only when the subscriber's own unsubscribe is the
        suppression (they re-subscribe with double opt-in); becoming active lifts it. Any
        other suppression raises :class:`SuppressedAddressError`. Setting the current status
        again changes nothing. Raises :class:`UnknownSubscriberError`.
        """
        _check_status(status)
        now = self._clock()
        with self._engine.begin() as conn:
            current = self._locked(conn, subscriber_id)
            if current.status == status:
                return current
            suppression = self._suppression_row(conn, current.email)
            if status in SUPPRESSED:
                self._insert_suppression(conn, current.email, status, reason, now)
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
            self._record(conn, subscriber_id, "status", current.status, status, reason, now)
        return self._must_get(subscriber_id)

    def set_preferences(
        self,
        subscriber_id: int,
        *,
        categories: Collection[str],
        language: str,
        reason: str = "preferences",
    ) -> Subscriber:
        """Replace categories and language; record a ``preferences`` event.

        Raises :class:`InvalidPreferencesError` and :class:`UnknownSubscriberError`.
        """
        stored, checked_language = check_preferences(categories, language)
        now = self._clock()
        with self._engine.begin() as conn:
            current = self._locked(conn, subscriber_id)
            conn.execute(
                update(subscribers)
                .where(subscribers.c.id == subscriber_id)
                .values(categories=stored, language=checked_language, updated_at=now)
            )
            what = f"{reason} (language {checked_language}, categories {stored or 'all'})"
            status = current.status
            self._record(conn, subscriber_id, "preferences", status, status, what, now)
        return self._must_get(subscriber_id)

    def mark_confirmation_sent(self, subscriber_id: int, when: dt.datetime) -> None:
        """Remember when a confirmation message was last sent. Raises UnknownSubscriberError."""
        with self._engine.begin() as conn:
            current = self._locked(conn, subscriber_id)
            conn.execute(
                update(subscribers)
                .where(subscribers.c.id == subscriber_id)
                .values(confirmation_sent_at=when)
            )
            self._record(
                conn, subscriber_id, "confirmation_sent", current.status, current.status, "", when
            )

    def remove(self, email: str) -> bool:
        """Erase an address: delete its subscriber, keep only its hash as a suppression.

        The subscriber's events stay without the link to them, the suppression loses the
        plain address and its detail, deliveries lose the address and queued ones are
        cancelled. The hash blocks the address from being added or imported again. Returns
        whether a subscriber was deleted (the hash is kept either way).
        Raises :class:`InvalidAddressError`.
        """
        normal = normalize_email(email)
        digest = email_hash(normal)
        now = self._clock()
        with self._engine.begin() as conn:
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
                self._record(conn, row.id, "erased", row.status, None, "erasure requested", now)
                conn.execute(
                    update(deliveries)
                    .where(deliveries.c.subscriber_id == row.id, deliveries.c.status == "queued")
                    .values(status="failed", error="subscriber erased before sending")
                )
                conn.execute(
                    update(deliveries).where(deliveries.c.subscriber_id == row.id).values(email="")
                )
                conn.execute(delete(subscribers).where(subscribers.c.id == row.id))
            if self._suppression_row(conn, normal) is None:
                self._insert_suppression(conn, None, "erased", "", now, digest=digest)
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
        with self._engine.connect() as conn:
            row = conn.execute(
                select(suppressions).where(suppressions.c.email_hash == email_hash(normal))
            ).first()
        return _suppression(row) if row else None

    def suppressions(self) -> Iterator[Suppression]:
        """Every suppression, oldest first, streamed."""
        with self._engine.connect() as conn:
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
        now = self._clock()
        with self._engine.begin() as conn:
            if self._suppression_row(conn, normal) is None:
                self._insert_suppression(conn, normal, reason, detail, now)
            if reason not in SUPPRESSED:
                return
            row = conn.execute(
                select(subscribers.c.id, subscribers.c.status)
                .where(subscribers.c.email == normal)
                .with_for_update()
            ).first()
            if row is not None and row.status != reason:
                conn.execute(
                    update(subscribers)
                    .where(subscribers.c.id == row.id)
                    .values(status=reason, updated_at=now)
                )
                self._record(conn, row.id, "status", row.status, reason, detail or reason, now)

    def unsuppress(self, email: str) -> bool:
        """Lift the suppression of this address; whether there was one.

        The subscriber's status is left as it is. Raises :class:`InvalidAddressError`.
        """
        digest = email_hash(normalize_email(email))
        with self._engine.begin() as conn:
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
                with self._engine.begin() as conn:
                    return self._add_many(conn, rows, source, reason)
            except IntegrityError:
                continue
        raise SubscriberExistsError("addresses kept being added concurrently; import again")

    def _add_many(
        self, conn: Connection, rows: Sequence[NewSubscriber], source: Source, reason: str
    ) -> AddManyResult:
        result = AddManyResult()
        unique: dict[str, NewSubscriber] = {}
        for row in rows:
            unique.setdefault(row.email, row)
        result.already_present = len(rows) - len(unique)
        hashes = {email_hash(email): email for email in unique}
        for (digest,) in conn.execute(
            select(suppressions.c.email_hash).where(suppressions.c.email_hash.in_(hashes))
        ):
            del unique[hashes[digest]]
            result.suppressed += 1
        for (email,) in conn.execute(
            select(subscribers.c.email).where(subscribers.c.email.in_(builtins.list(unique)))
        ):
            del unique[email]
            result.already_present += 1
        if not unique:
            return result
        now = self._clock()
        values = [
            {
                "email": row.email,
                "status": "active",
                "categories": ",".join(sorted(row.categories)),
                "language": row.language,
                "source": source,
                "created_at": now,
                "updated_at": now,
                "confirmed_at": now,
            }
            for row in unique.values()
        ]
        ids = conn.execute(
            insert(subscribers).returning(subscribers.c.id, sort_by_parameter_order=True),
            values,
        ).scalars()
        conn.execute(
            insert(subscriber_events),
            [
                {
                    "subscriber_id": new_id,
                    "kind": "created",
                    "old_status": None,
                    "new_status": "active",
                    "reason": reason,
                    "created_at": now,
                }
                for new_id in ids
            ],
        )
        result.added = len(values)
        return result

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

    @staticmethod
    def _suppression_row(conn: Connection, normal: str) -> _SuppressionKey | None:
        row = conn.execute(
            select(suppressions.c.email_hash, suppressions.c.reason).where(
                suppressions.c.email_hash == email_hash(normal)
            )
        ).first()
        return _SuppressionKey(row.email_hash, row.reason) if row else None

    @staticmethod
    def _insert_suppression(
        conn: Connection,
        email: str | None,
        reason: str,
        detail: str,
        now: dt.datetime,
        digest: str | None = None,
    ) -> None:
        digest = digest or email_hash(email or "")
        exists = conn.execute(
            select(suppressions.c.id).where(suppressions.c.email_hash == digest)
        ).first()
        if exists is None:
            conn.execute(
                insert(suppressions).values(
                    email_hash=digest, email=email, reason=reason, detail=detail, created_at=now
                )
            )

    @staticmethod
    def _record(
        conn: Connection,
        subscriber_id: int,
        kind: str,
        old: str | None,
        new: str | None,
        reason: str,
        now: dt.datetime,
    ) -> None:
        conn.execute(
            insert(subscriber_events).values(
                subscriber_id=subscriber_id,
                kind=kind,
                old_status=old,
                new_status=new,
                reason=reason,
                created_at=now,
            )
        )


@dataclass(frozen=True)
class _SuppressionKey:
    hash: str
    reason: str
