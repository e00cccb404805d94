"""Helpers for the delivery tests: subscribers with varied preferences, and who should get what."""

from __future__ import annotations

from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

from sqlalchemy import func, select

from newsletter.errors import AccountPausedError
from newsletter.model.subscribers import NewSubscriber
from newsletter.store.db import open_database, upgrade
from newsletter.store.subscribers import SubscriberStore
from newsletter.store.tables import deliveries, subscribers
from newsletter.transports.outbox import OutboxTransport

# The sample issue has papers in CL, CV and LG; its legend also names AS and RO.
CHOICES: list[tuple[frozenset[str], str]] = [
    (frozenset(), "both"),
    (frozenset({"CV"}), "zh"),
    (frozenset({"LG", "CL"}), "en"),
    (frozenset({"RO"}), "both"),  # matches nothing in the issue: gets nothing
    (frozenset({"CL", "CV", "LG", "RO"}), "zh"),  # a superset: gets everything
    (frozenset({"AS", "CV"}), "en"),
    (frozenset(), "en"),
]
ISSUE_CATEGORIES = frozenset({"CL", "CV", "LG"})


@dataclass(frozen=True)
class Reader:
    id: int
    email: str
    categories: frozenset[str]
    language: str

    @property
    def expects_issue(self) -> bool:
        return not self.categories or bool(self.categories & ISSUE_CATEGORIES)

    @property
    def expected_variant(self) -> str:
        """The variant key worked out here, independently of the SQL that computes it."""
        chosen = self.categories & ISSUE_CATEGORIES
        if not self.categories or chosen == ISSUE_CATEGORIES:
            return f"{self.language}:*"
        return f"{self.language}:{','.join(sorted(chosen))}"


def subscribe(url: str, count: int, prefix: str = "reader") -> list[Reader]:
    """Add ``count`` active subscribers with preferences cycling through ``CHOICES``."""
    if not url.startswith("sqlite"):
        upgrade(url)
    db = open_database(url)
    try:
        store = SubscriberStore(db)
        rows = [
            NewSubscriber(f"{prefix}{n:04d}@example.com", *CHOICES[n % len(CHOICES)])  # type: ignore[arg-type]
            for n in range(count)
        ]
        store.add_many(rows)
        readers = [
            Reader(s.id, s.email, s.categories, s.language)
            for s in store.list("active") if s.email.startswith(prefix)
        ]
    finally:
        db.close()
    return readers


def delivery_rows(url: str) -> list[dict[str, object]]:
    """Every delivery, with its reader's address as ``email`` ("" once erased)."""
    db = open_database(url)
    email = func.coalesce(subscribers.c.email, "").label("email")
    try:
        with db.engine.connect() as conn:
            rows = conn.execute(
                select(deliveries, email)
                .select_from(deliveries.outerjoin(
                    subscribers, subscribers.c.id == deliveries.c.subscriber_id))
                .order_by(deliveries.c.id)).mappings().all()
    finally:
        db.close()
    return [dict(r) for r in rows]


def outbox(directory: Path) -> list[EmailMessage]:
    """Every finished message in an outbox directory (``.eml``; partial ``.tmp`` skipped)."""
    found = []
    for path in sorted(directory.glob("*.eml")):
        message = message_from_bytes(path.read_bytes(), policy=policy.default)
        assert isinstance(message, EmailMessage)
        found.append(message)
    return found


class PausesAfter(OutboxTransport):
    """The outbox, until the account is "paused" after ``limit`` messages."""

    def __init__(self, directory: Path, limit: int) -> None:
        super().__init__(directory)
        self.limit = limit
        self.sent = 0

    def send(self, raw: bytes, to: str) -> str:
        if self.sent >= self.limit:
            raise AccountPausedError("SendingPausedException: paused for the test")
        self.sent += 1
        return super().send(raw, to)
